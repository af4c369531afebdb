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

// httpAPIEvent is an HTTP API event as decodeHTTPAPI reads it, in one
// decoding with the field kindOf reads besides the event's: most payloads
// are HTTP API events, and decoding each twice was a put's largest cost
// after the store.
//
// It is events.APIGatewayV2HTTPRequest with some of its fields overridden
// (encoding/json decodes a key into the least nested field of its name),
// for fewer allocations: its maps of strings are stringMaps (the plain
// way, each entry costs three), the version, route key, method and body
// jsonStrings, and the strings of the request context that API Gateway
// always sends and nothing reads (the account, stage, domain, time,
// protocol, source IP and user agent) are checked but not kept. Every
// other field is the event's own, decoded as ever.
type httpAPIEvent struct {
	events.APIGatewayV2HTTPRequest
	Version               jsonString `json:"version"`
	RouteKey              jsonString `json:"routeKey"`
	Body                  jsonString `json:"body"`
	Headers               stringMap  `json:"headers"`
	QueryStringParameters stringMap  `json:"queryStringParameters"`
	PathParameters        stringMap  `json:"pathParameters"`
	StageVariables        stringMap  `json:"stageVariables"`
	RequestContext        struct {
		events.APIGatewayV2HTTPRequestContext
		RouteKey     nonEmpty `json:"routeKey"` // only whether there is one
		AccountID    unread   `json:"accountId"`
		Stage        unread   `json:"stage"`
		DomainName   unread   `json:"domainName"`
		DomainPrefix unread   `json:"domainPrefix"`
		Time         unread   `json:"time"`
		HTTP         struct {
			events.APIGatewayV2HTTPRequestContextHTTPDescription
			Method    jsonString `json:"method"`
			Protocol  unread     `json:"protocol"`
			SourceIP  unread     `json:"sourceIp"`
			UserAgent unread     `json:"userAgent"`
		} `json:"http"`
		Authorizer *struct {
			events.APIGatewayV2HTTPRequestContextAuthorizerDescription
			JWT *struct {
				events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
				Claims stringMap `json:"claims"`
			} `json:"jwt"`
		} `json:"authorizer"`
	} `json:"requestContext"`
	HTTPMethod string `json:"httpMethod"`
}

// decodeHTTPAPI returns the payload as an HTTP API event when it is plainly
// one: kindOf would say kindHTTPAPI and decoding it would succeed. Anything
// less plain (it fails to decode, or its request context is empty) is left
// to kindOf, so every payload is answered as before. The fields httpAPIEvent
// does not keep are empty in the event.
func decodeHTTPAPI(payload []byte) (*events.APIGatewayV2HTTPRequest, bool) {
	var p httpAPIEvent
	if json.Unmarshal(payload, &p) != nil {
		return nil, false
	}
	rc := &p.RequestContext
	if p.Version != "2.0" || (p.RouteKey == "" && p.RawPath == "") || (rc.RequestID == "" && !rc.RouteKey && rc.HTTP.Method == "") {
		return nil, false
	}
	e := &p.APIGatewayV2HTTPRequest
	e.Version, e.RouteKey, e.Body = string(p.Version), string(p.RouteKey), string(p.Body)
	e.Headers, e.QueryStringParameters, e.PathParameters, e.StageVariables = p.Headers, p.QueryStringParameters, p.PathParameters, p.StageVariables
	e.RequestContext = rc.APIGatewayV2HTTPRequestContext
	e.RequestContext.HTTP = rc.HTTP.APIGatewayV2HTTPRequestContextHTTPDescription
	e.RequestContext.HTTP.Method = string(rc.HTTP.Method)
	if a := rc.Authorizer; a != nil {
		e.RequestContext.Authorizer = &a.APIGatewayV2HTTPRequestContextAuthorizerDescription
		if jwt := a.JWT; jwt != nil {
			jwt.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription.Claims = jwt.Claims
			a.APIGatewayV2HTTPRequestContextAuthorizerDescription.JWT = &jwt.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
		}
	}
	return e, true
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
