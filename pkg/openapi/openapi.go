// Package openapi holds the OpenAPI 3.1 documents of the service's APIs —
// the device events API and the key API, which serves the same routes to
// device API keys (openapi.yaml), and the DeLaval registry's own API
// (registry.yaml) — and a validator of requests and answers against them,
// built on kin-openapi (which validates 3.1 documents with JSON Schema
// 2020-12 from v0.152).
package openapi

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/oasdiff/yaml"

	"github.com/fleetlog/device-events/pkg/routes"
)

var (
	//go:embed openapi.yaml
	eventsYAML []byte
	//go:embed registry.yaml
	registryYAML []byte
	// dialects/<dialect>.yaml documents the routes of one dialect
	// (routes.Dialect) on the key API, under the dialect's tag.
	//go:embed dialects
	dialectsFS embed.FS
)

// Spec is the OpenAPI document of one API.
type Spec struct {
	name string
	// unrouted is how the API answers a method and path it does not have
	// (API Gateway answers them): the statuses, and the document's
	// response whose body those answers have.
	unrouted         []int
	unroutedResponse string
	// The JSON form is made once, at start. The YAML is embedded and
	// tested, so an error here is a broken build: Load reports it and the
	// tests fail.
	json []byte
	err  error
}

func newSpec(name string, source []byte, unroutedResponse string, unrouted ...int) *Spec {
	s := &Spec{name: name, unrouted: unrouted, unroutedResponse: unroutedResponse}
	s.json, s.err = yaml.YAMLToJSON(source)
	return s
}

// The documents of the APIs.
var (
	// An HTTP API answers 404, to an unknown method too (it has no 405);
	// a REST API answers 403, as to a missing signature.
	Events   = newSpec("openapi.yaml", eventsYAML, "NotFound", http.StatusNotFound)
	Registry = newSpec("registry.yaml", registryYAML, "Forbidden", http.StatusForbidden)
)

// For returns the document of an API. The key API serves the events API's
// routes, so one document says both: its operations list the schemes of
// each API (a bearer JWT, or a device API key in one of its four forms),
// and its servers both base URLs. A document of its own would repeat every
// operation, or have to be generated from this one; clients generated from
// this one call either API, their base URL and credential changed, as the
// other systems' dialects will.
func For(api routes.API) *Spec {
	if api == routes.Registry {
		return Registry
	}
	return Events
}

// dialectSpecs are the documents of the dialects that have one.
var dialectSpecs = func() map[routes.Dialect]*Spec {
	out := map[routes.Dialect]*Spec{}
	for _, d := range routes.Dialects {
		name := "dialects/" + string(d) + ".yaml"
		if b, err := dialectsFS.ReadFile(name); err == nil {
			// A dialect's unknown paths are the key API's: API Gateway's 404.
			out[d] = newSpec(name, b, "NotFound", http.StatusNotFound)
		}
	}
	return out
}()

// ForDialect returns the document of a dialect's routes, nil if it has
// none.
func ForDialect(d routes.Dialect) *Spec { return dialectSpecs[d] }

// ForRoute returns the document of a route: its dialect's, or its API's.
func ForRoute(r routes.Route) *Spec {
	if r.Dialect != "" {
		return ForDialect(r.Dialect)
	}
	return For(r.API)
}

// JSON returns the document as JSON, to serve at /openapi.json. The caller
// must not modify it.
func (s *Spec) JSON() []byte { return s.json }

// Load parses and checks the document.
func (s *Spec) Load(ctx context.Context) (*openapi3.T, error) {
	if s.err != nil {
		return nil, fmt.Errorf("openapi: %s is not YAML: %w", s.name, s.err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(s.json)
	if err != nil {
		return nil, fmt.Errorf("openapi: load %s: %w", s.name, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: invalid document %s: %w", s.name, err)
	}
	return doc, nil
}

// Document returns the events API's document as JSON.
func Document() []byte { return Events.JSON() }

// Load parses and checks the events API's document.
func Load(ctx context.Context) (*openapi3.T, error) { return Events.Load(ctx) }

// ErrUndocumented is wrapped by the errors for a method and path that have
// no operation in the document.
var ErrUndocumented = errors.New("no operation in the document")

// ValidationError says why a request or an answer does not match the
// document.
type ValidationError struct {
	Method string
	Path   string
	// Status is the answer's status; 0 when the request is at fault.
	Status int
	Err    error
}

func (e *ValidationError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("openapi: request %s %s: %v", e.Method, e.Path, e.Err)
	}
	return fmt.Sprintf("openapi: answer %d to %s %s: %v", e.Status, e.Method, e.Path, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Validator checks requests and answers against the document. It is safe for
// concurrent use.
type Validator struct {
	router      routers.Router
	options     *openapi3filter.Options
	errorSchema *openapi3.Schema
	unrouted    []int
}

// NewValidator loads the events API's document and builds its router.
func NewValidator() (*Validator, error) { return Events.NewValidator() }

// NewValidator loads the document and builds its router.
func (s *Spec) NewValidator() (*Validator, error) {
	doc, err := s.Load(context.Background())
	if err != nil {
		return nil, err
	}
	// The servers name API Gateway's and the local gateway's hosts; a
	// validator must route a request whatever host it went to (a test
	// server's port, a custom domain), so it routes by path alone.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: router: %w", err)
	}
	opts := &openapi3filter.Options{
		// The gateway checks tokens; the validator checks shapes.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// Defaults are the server's business: the validator must not
		// rewrite the request it is shown.
		SkipSettingDefaults: true,
		// An answer whose status the document does not list is drift.
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	opts.WithCustomSchemaErrorFunc(schemaMessage)
	v := &Validator{router: router, options: opts, unrouted: s.unrouted}
	// A path or method the document lacks is answered 404 by API Gateway
	// (a function behind a catch-all route would answer it 404 or 405):
	// the body is the NotFound response's, either shape.
	if r := doc.Components.Responses[s.unroutedResponse]; r != nil && r.Value != nil {
		if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			v.errorSchema = mt.Schema.Value
		}
	}
	return v, nil
}

// schemaMessage keeps an error to what is wrong and where, without the
// schema and value dumps kin-openapi adds by default; a oneOf that matched
// no branch keeps each branch's reason, which is what tells a caller what
// to fix.
func schemaMessage(err *openapi3.SchemaError) string {
	msg := err.Reason
	if at := strings.Join(err.JSONPointer(), "/"); at != "" {
		msg = "/" + at + ": " + msg
	}
	if err.Origin != nil {
		msg += ": " + err.Origin.Error()
	}
	return msg
}

// Request checks a request and its body against the document. req's own
// body is neither read nor changed. The error is a *ValidationError; it
// wraps ErrUndocumented when the document has no such operation.
func (v *Validator) Request(req *http.Request, body []byte) error {
	in, err := v.input(req, body)
	if err != nil {
		return &ValidationError{Method: req.Method, Path: req.URL.EscapedPath(), Err: err}
	}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		return &ValidationError{Method: req.Method, Path: req.URL.EscapedPath(), Err: err}
	}
	return nil
}

// Response checks an answer to req against the document: its status must be
// one the operation lists, with the headers and body that status has. A 404
// or 405 to a path or method the document lacks is checked against the
// NotFound response's schema (every path answers those). The error is a *ValidationError.
func (v *Validator) Response(req *http.Request, status int, header http.Header, body []byte) error {
	fail := func(err error) error {
		return &ValidationError{Method: req.Method, Path: req.URL.EscapedPath(), Status: status, Err: err}
	}
	in, err := v.input(req, nil)
	if errors.Is(err, ErrUndocumented) {
		if !slices.Contains(v.unrouted, status) {
			return fail(err)
		}
		return v.undocumentedAnswer(status, header, body, fail)
	}
	if err != nil {
		return fail(err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                v.options,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		return fail(err)
	}
	return nil
}

func (v *Validator) undocumentedAnswer(status int, header http.Header, body []byte, fail func(error) error) error {
	if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
		return fail(errors.New("405 without an Allow header"))
	}
	if v.errorSchema == nil {
		return fail(errors.New("the document has no response for unrouted requests"))
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fail(fmt.Errorf("body is not JSON: %w", err))
	}
	if err := v.errorSchema.VisitJSON(value, openapi3.VisitAsResponse(), openapi3.SetSchemaErrorMessageCustomizer(schemaMessage)); err != nil {
		return fail(fmt.Errorf("body is not an error answer: %w", err))
	}
	return nil
}

// input finds req's operation. The body is given to kin-openapi on a copy
// of the request, so that the caller's request stays as it was.
func (v *Validator) input(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
			return nil, fmt.Errorf("%w (%v)", ErrUndocumented, err)
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options:    v.options,
	}, nil
}
