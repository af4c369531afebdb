package api

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// Response is what a route handler answers.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

func jsonResponse(status int, v any) Response {
	b, err := marshalJSON(v)
	if err != nil {
		// Only our own types are marshalled here; failing is a bug.
		b = []byte(`{"error":"internal","message":"internal error"}`)
		status = 500
	}
	return Response{Status: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}
}

func (r Response) httpAPI() events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: r.Headers, Body: string(r.Body)}
}

func (r Response) rest() events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: r.Status, Headers: r.Headers, Body: string(r.Body)}
}

// marshalJSON is how every answer's JSON is written; a listing sizes its
// events with it (list.go).
func marshalJSON(v any) ([]byte, error) { return jsonbody.Marshal(v) }
