package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/routes"
)

// firstInvoke is the first request a function answers in the benchmark,
// and what its answer must hold.
type firstInvoke struct {
	payload []byte
	status  int
	// want are strings the answer's body must contain: what shows that the
	// handler did its whole work (a signed page token, the zone's days).
	want []string
	// authorizer: the answer is an authorizer's, which must allow.
	authorizer bool
}

const (
	benchDevice    = "e8613951-216a-4ad7-85e3-dd963d0823c4"
	benchAPIID     = "a1b2c3d4e5"
	benchKeysAPIID = "k1k2k3k4k5"
	benchKeyID     = "06h2lq9ncmlqt15d"
	benchKeySecret = "kt2evszgcvkhgluog4iwolih5unbiy56"
	benchKey       = "dek_" + benchKeyID + "_" + benchKeySecret
)

// firstInvokes are each function's first request: what a first request
// to it really does.
func firstInvokes() map[string]firstInvoke {
	put, _ := json.Marshal(map[string]string{
		"deviceid": benchDevice, "status": "Failed", "function": "get-greengrass-configurations",
		"description": "Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment",
	})
	event := eventID(time.Now().Add(-time.Hour), 0)
	eventPath := "/devices/" + benchDevice + "/events/" + event
	eventParams := map[string]string{"deviceId": benchDevice, "eventId": event}
	device := map[string]string{"deviceId": benchDevice}
	return map[string]firstInvoke{
		// A DeLaval put: one transaction.
		routes.PutEvent: {
			payload: httpAPIEvent("POST /devices/{deviceId}/events", "/devices/"+benchDevice+"/events", device, nil,
				map[string]string{"content-type": "application/json"}, string(put), routes.ScopeWrite),
			status: 201,
		},
		// A device's newest events: a full page of 100, whose next page
		// token is signed with the key read from Secrets Manager.
		routes.ListEvents: {
			payload: httpAPIEvent("GET /devices/{deviceId}/events", "/devices/"+benchDevice+"/events", device, nil, nil, "", routes.ScopeRead),
			status:  200,
			want:    []string{`"nextPageToken":"`},
		},
		// A month of daily counts in Amsterdam: the zone is loaded.
		routes.AggregateEvents: {
			payload: httpAPIEvent("GET /devices/{deviceId}/aggregates", "/devices/"+benchDevice+"/aggregates", device,
				url.Values{"type": {"get-greengrass-configurations"}, "interval": {"day"}, "tz": {"Europe/Amsterdam"}}, nil, "", routes.ScopeRead),
			status: 200,
			want:   []string{`"tz":"Europe/Amsterdam"`, `"total":`},
		},
		// An acknowledged event resolved with a comment: its update goes
		// to its history, which is read back for the answer.
		routes.PatchEvent: {
			payload: httpAPIEvent("PATCH /devices/{deviceId}/events/{eventId}", eventPath, eventParams, nil,
				map[string]string{"content-type": "application/merge-patch+json"},
				`{"state":"resolved","comment":"pushed again with pkg_spiderman_gwip"}`, routes.ScopeWrite),
			status: 200,
			want:   []string{`"state":"resolved"`},
		},
		// An event deleted: read, deleted with its counts, its history
		// looked for.
		routes.DeleteEvent: {
			payload: httpAPIEvent("DELETE /devices/{deviceId}/events/{eventId}", eventPath, eventParams, nil, nil, "", routes.ScopeDelete),
			status:  204,
		},
		// A key made: the pepper read, the key's two items written.
		routes.APIKeys: {
			payload: httpAPIEvent("POST /apikeys", "/apikeys", nil, nil, map[string]string{"content-type": "application/json"},
				`{"name":"door sensor north barn","scopes":["events/read","events/write"],"devices":["`+benchDevice+`"]}`, routes.ScopeAdmin),
			status: 201,
			want:   []string{`"key":"dek_`},
		},
		// A key checked: the pepper read, the key read and its first use
		// recorded, the request allowed.
		routes.AuthorizeKey: {
			payload:    authorizerEvent("GET /devices/{deviceId}/events", "/devices/"+benchDevice+"/events", map[string]string{"x-api-key": benchKey}),
			authorizer: true,
		},
	}
}

// authorizerEvent is the event an HTTP API sends the key API's Lambda
// authorizer (payload 2.0) for a request.
func authorizerEvent(routeKey, path string, headers map[string]string) []byte {
	method, _, _ := strings.Cut(routeKey, " ")
	e := map[string]any{
		"version": "2.0", "type": "REQUEST", "routeKey": routeKey, "rawPath": path, "headers": headers,
		"routeArn": "arn:aws:execute-api:eu-west-1:123456789012:" + benchKeysAPIID + "/$default/" + method + path,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": benchKeysAPIID, "requestId": "JKJaXmPLvHcESHB=", "stage": "$default",
			"routeKey": routeKey, "timeEpoch": time.Now().UnixMilli(),
			"http": map[string]string{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.8", "userAgent": "door-sensor/1.0"},
		},
	}
	payload, err := json.Marshal(e)
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return payload
}

// httpAPIEvent is an HTTP API (payload 2.0) event as API Gateway sends it
// after its JWT authorizer.
func httpAPIEvent(routeKey, path string, params map[string]string, query url.Values, headers map[string]string, body, scope string) []byte {
	method, _, _ := strings.Cut(routeKey, " ")
	h := map[string]string{"host": "api.example.com", "user-agent": "delaval-registry/2.4"}
	for k, v := range headers {
		h[k] = v
	}
	e := map[string]any{
		"version": "2.0", "routeKey": routeKey, "rawPath": path, "rawQueryString": query.Encode(),
		"headers": h, "pathParameters": params, "isBase64Encoded": false, "body": body,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": benchAPIID, "requestId": "JKJaXmPLvHcESHA=", "stage": "$default",
			"routeKey": routeKey, "domainName": "api.example.com", "timeEpoch": time.Now().UnixMilli(),
			"http": map[string]string{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "delaval-registry/2.4"},
			"authorizer": map[string]any{"jwt": map[string]any{
				"claims": map[string]string{"sub": "registry", "scope": scope}, "scopes": nil,
			}},
		},
	}
	if len(query) > 0 {
		qs := map[string]string{}
		for k, v := range query {
			qs[k] = strings.Join(v, ",")
		}
		e["queryStringParameters"] = qs
	}
	payload, err := json.Marshal(e)
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return payload
}
