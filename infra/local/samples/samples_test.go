package samples

import (
	"bytes"
	"testing"
)

func TestWithEventIDNamesTheGivenEvent(t *testing.T) {
	const sample, id = "01KAPWAC2VKXMQJ7JPJJ1X3M7D", "01M8NAVAST2QPBBKPV34JFVAFJ"
	cases := []struct {
		name, payload, want string
	}{
		{"an event's path parameter and paths name it",
			`{"rawPath":"/devices/d/events/` + sample + `","requestContext":{"http":{"path":"/devices/d/events/` + sample + `"}},"pathParameters":{"deviceId":"d","eventId":"` + sample + `"}}`,
			`{"rawPath":"/devices/d/events/` + id + `","requestContext":{"http":{"path":"/devices/d/events/` + id + `"}},"pathParameters":{"deviceId":"d","eventId":"` + id + `"}}`},
		{"a route without an event is left as it is",
			`{"rawPath":"/devices/d/events","pathParameters":{"deviceId":"d"}}`,
			`{"rawPath":"/devices/d/events","pathParameters":{"deviceId":"d"}}`},
		{"a direct invoke is left as it is", `{"deviceid":"d","function":"f"}`, `{"deviceid":"d","function":"f"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := WithEventID([]byte(tc.payload), id)
			if err != nil || !bytes.Equal(got, []byte(tc.want)) {
				t.Errorf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestReadAnswerFindsTheStoredEvent(t *testing.T) {
	cases := []struct {
		name, payload string
		want          Answer
		wantErr       bool
	}{
		{"a put's answer names its first event", `{"statusCode":201,"body":"{\"message\":\"m\",\"events\":[{\"id\":\"a\"},{\"id\":\"b\"}]}"}`, Answer{Status: 201, EventID: "a"}, false},
		{"a delete's answer names none", `{"statusCode":204,"body":""}`, Answer{Status: 204}, false},
		{"a direct invoke's answer is not an API Gateway answer", `{"message":"m","events":[{"id":"a"}]}`, Answer{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadAnswer([]byte(tc.payload))
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("got %+v, %v; want %+v, an error: %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
