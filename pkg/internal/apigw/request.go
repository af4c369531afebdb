package apigw

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Request is an API request with the differences between API Gateway's
// payload versions taken out.
type Request struct {
	Method     string
	Route      routes.Route
	PathParams map[string]string
	Query      url.Values
	Headers    map[string]string // lower-case names
	Body       []byte
	RequestID  string
	// APIID is the requestContext.apiId of the event: the API Gateway API
	// it came through, or whatever a direct invoke wrote there.
	APIID string
	// Claims are the claims the authorizer passed on (a JWT authorizer's,
	// or a Lambda authorizer's context); nil when the event carries none.
	Claims *Claims
}

// Header returns a request header by its case-insensitive name.
func (r *Request) Header(name string) string {
	var buf [64]byte
	if b, ok := appendLowerASCII(buf[:0], name); ok {
		return r.Headers[string(b)] // no copy: the conversion is only a map key
	}
	return r.Headers[strings.ToLower(name)]
}

// appendLowerASCII appends s in lower case, or reports false when s is not
// ASCII.
func appendLowerASCII(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return dst, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

// fromHTTPAPI reads an HTTP API (payload 2.0) event.
func fromHTTPAPI(e *events.APIGatewayV2HTTPRequest) (*Request, *apierror.Error) {
	r := &Request{
		Method:    e.RequestContext.HTTP.Method,
		Headers:   lower(e.Headers),
		RequestID: e.RequestContext.RequestID,
		APIID:     e.RequestContext.APIID,
	}
	if r.Method == "" {
		r.Method, _, _ = strings.Cut(e.RouteKey, " ")
	}
	q, err := url.ParseQuery(e.RawQueryString)
	if err != nil {
		return r, &apierror.Error{Code: apierror.InvalidParameter, Message: "query string is not valid URL encoding"}
	}
	if e.RawQueryString == "" {
		for k, v := range e.QueryStringParameters {
			q[k] = []string{v}
		}
	}
	r.Query = q
	body, berr := bodyOf(e.Body, e.IsBase64Encoded)
	if berr != nil {
		return r, berr
	}
	r.Body = body
	// The authorizer says which HTTP API the event came through: the key
	// API's routes are behind its Lambda authorizer, the events API's
	// behind the JWT authorizer (or none: a test event, sam local). The
	// handlers hold that API against API_IDS (handlers.Deps.APIs), so an
	// event whose authorizer and apiId disagree is refused.
	api := routes.Events
	if a := e.RequestContext.Authorizer; a != nil {
		switch {
		case a.JWT != nil:
			r.Claims = claimsFromStrings(a.JWT.Claims, a.JWT.Scopes)
		case a.Lambda != nil:
			r.Claims, api = claimsFromLambda(a.Lambda), routes.Keys
		}
	}
	route, ok := routes.ByKey(api, e.RouteKey)
	path := e.RawPath
	if path == "" {
		path = e.RequestContext.HTTP.Path
	}
	return r, r.resolve(api, route, ok, e.PathParameters, path)
}

// fromREST reads a REST API (payload 1.0) proxy event.
func fromREST(e *events.APIGatewayProxyRequest) (*Request, *apierror.Error) {
	r := &Request{
		Method:    e.HTTPMethod,
		Headers:   lower(e.Headers),
		RequestID: e.RequestContext.RequestID,
		APIID:     e.RequestContext.APIID,
		Query:     url.Values{},
	}
	for k, v := range e.MultiValueHeaders {
		r.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	for k, v := range e.QueryStringParameters {
		r.Query[k] = []string{v}
	}
	for k, v := range e.MultiValueQueryStringParameters {
		r.Query[k] = v
	}
	body, berr := bodyOf(e.Body, e.IsBase64Encoded)
	if berr != nil {
		return r, berr
	}
	r.Body = body
	if a := e.RequestContext.Authorizer; a != nil {
		r.Claims = claimsFromREST(a)
	}
	// A REST API event is the registry's, or a test event of the events
	// API's routes (their keys differ in the case of {deviceId}).
	key := e.HTTPMethod + " " + e.Resource
	route, ok := routes.ByKey(routes.Registry, key)
	if !ok {
		route, ok = routes.ByKey(routes.Events, key)
	}
	return r, r.resolve(routes.Events, route, ok, e.PathParameters, e.Path)
}

// resolve settles the route: from the route key when API Gateway gave one
// of ours, else (a $default or proxy route, or a test event) by matching
// the path against the routes of api.
func (r *Request) resolve(api routes.API, route routes.Route, ok bool, params map[string]string, path string) *apierror.Error {
	if ok {
		r.Route, r.PathParams = route, params
		if r.PathParams == nil {
			r.PathParams = map[string]string{}
		}
		return nil
	}
	segments, err := splitPath(path)
	if err != nil {
		return notFound()
	}
	route, p, known := routes.Match(api, r.Method, segments)
	switch {
	case route.Function != "":
		r.Route, r.PathParams = route, p
		return nil
	case known:
		return &apierror.Error{Code: apierror.MethodNotAllowed,
			Message: r.Method + " is not allowed here", Allow: routes.Methods(api, segments)}
	}
	return notFound()
}

// splitPath splits a raw URL path into decoded segments. An encoded slash
// stays inside its segment, so "/devices/a%2Fb/events" names the device
// "a/b" (which validation then refuses) rather than another route. Slashes
// are not trimmed: "/devices/d/events/" and "//devices/d/events" have an
// empty segment, match no route and are 404, as at API Gateway, rather
// than being served as another path.
func splitPath(path string) ([]string, error) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, errors.New("path does not start with /")
	}
	raw := strings.Split(rest, "/")
	out := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// notFound is the answer to a path no route has.
func notFound() *apierror.Error {
	return &apierror.Error{Code: apierror.NotFound, Message: "no such resource"}
}

// lower returns the headers with lower-case names: h itself when they are
// already (API Gateway's HTTP API lower-cases them), else a copy.
func lower(h map[string]string) map[string]string {
	if h != nil && lowerNames(h) {
		return h
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}

func lowerNames(h map[string]string) bool {
	for k := range h {
		if strings.ToLower(k) != k {
			return false
		}
	}
	return true
}

func bodyOf(body string, b64 bool) ([]byte, *apierror.Error) {
	if !b64 {
		return []byte(body), nil
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, &apierror.Error{Code: apierror.InvalidJSON, Message: "body is not valid base64"}
	}
	return b, nil
}
