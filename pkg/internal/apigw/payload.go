package apigw

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// payload kinds Invoke tells apart.
type payloadKind int

const (
	kindDirect payloadKind = iota
	kindHTTPAPI
	kindREST
)

// httpAPIProbe reads an HTTP API event and the fields kindOf reads, in one
// decoding: most payloads are HTTP API events, and decoding each twice was
// a put's largest cost after the store.
type httpAPIProbe struct {
	events.APIGatewayV2HTTPRequest
	HTTPMethod string `json:"httpMethod"`
}

// decodeHTTPAPI returns the payload as an HTTP API event when it is plainly
// one: kindOf would say kindHTTPAPI and decoding it would succeed. Anything
// less plain (it fails to decode, or its request context is empty) is left
// to kindOf, so every payload is answered as before.
func decodeHTTPAPI(payload []byte) (*events.APIGatewayV2HTTPRequest, bool) {
	var p httpAPIProbe
	if json.Unmarshal(payload, &p) != nil {
		return nil, false
	}
	rc := &p.RequestContext
	if p.Version != "2.0" || (p.RouteKey == "" && p.RawPath == "") || (rc.RequestID == "" && rc.RouteKey == "" && rc.HTTP.Method == "") {
		return nil, false
	}
	return &p.APIGatewayV2HTTPRequest, true
}

// probe holds the fields that tell the payload kinds apart.
type probe struct {
	Version        string          `json:"version"`
	RouteKey       string          `json:"routeKey"`
	RawPath        string          `json:"rawPath"`
	HTTPMethod     string          `json:"httpMethod"`
	RequestContext json.RawMessage `json:"requestContext"`
}

func kindOf(payload []byte) payloadKind {
	var p probe
	if json.Unmarshal(payload, &p) != nil || len(p.RequestContext) == 0 {
		return kindDirect
	}
	switch {
	case p.Version == "2.0" && (p.RouteKey != "" || p.RawPath != ""):
		return kindHTTPAPI
	case p.HTTPMethod != "":
		return kindREST
	}
	return kindDirect
}
