package ecosystem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/fleetlog/device-events/pkg/openapi"
)

// exchange is one request through a recorder and its answer.
type exchange struct {
	method, target string
	// operation is the document's operationId for the request; empty
	// when the document has none.
	operation string
	status    int
	answer    []byte
	// seq orders the exchanges of every recorder of the test binary, as
	// they were sent.
	seq int64
}

// exchanges counts the requests of every recorder, for exchange.seq.
var exchanges atomic.Int64

func (e exchange) String() string {
	return fmt.Sprintf("%s %s -> %d %.300s", e.method, e.target, e.status, e.answer)
}

// recorder is a proxy to one API that keeps every exchange, and checks
// each against the API's OpenAPI document as the e2e tests do: the answer
// always, the request when the API accepted it.
type recorder struct {
	URL       string
	doc       *openapi3.T
	router    routers.Router
	validator *openapi.Validator

	mu        sync.Mutex
	exchanges []exchange
	invalid   []string
}

// newRecorder serves a proxy to target that ends with the test.
func newRecorder(t *testing.T, spec *openapi.Spec, target string) *recorder {
	t.Helper()
	doc, err := spec.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := spec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	// Operations are named by path alone, whatever host the proxy has.
	doc.Servers = nil
	for _, item := range doc.Paths.Map() {
		item.Servers = nil
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{doc: doc, router: router, validator: v}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.forward(w, req, target)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *recorder) forward(w http.ResponseWriter, in *http.Request, target string) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, err := http.NewRequestWithContext(in.Context(), in.Method, target+in.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = in.Header.Clone()
	seq := exchanges.Add(1)
	res, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	e := exchange{method: in.Method, target: in.URL.RequestURI(), status: res.StatusCode, answer: answer, seq: seq}
	if route, _, err := r.router.FindRoute(out); err == nil && route.Operation != nil {
		e.operation = route.Operation.OperationID
	}
	var problems []string
	check, _ := http.NewRequest(in.Method, in.URL.RequestURI(), bytes.NewReader(body))
	check.Header = in.Header.Clone()
	if err := r.validator.Response(check, res.StatusCode, res.Header, answer); err != nil {
		problems = append(problems, fmt.Sprintf("%s: the answer does not match the document: %v", e, err))
	}
	if res.StatusCode < 300 {
		if err := r.validator.Request(check, body); err != nil {
			problems = append(problems, fmt.Sprintf("%s: the API accepted a request the document refuses: %v", e, err))
		}
	}
	r.mu.Lock()
	r.exchanges = append(r.exchanges, e)
	r.invalid = append(r.invalid, problems...)
	r.mu.Unlock()

	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(answer)
}

// taken returns the exchanges since the first n, and how many there are
// now.
func (r *recorder) taken(n int) ([]exchange, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exchanges[n:]), len(r.exchanges)
}

// checkContract fails the test for every exchange the document does not
// describe.
func (r *recorder) checkContract(t *testing.T, who string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.invalid {
		t.Errorf("%s: %s", who, p)
	}
}

// missedOperations returns the document's operations no request reached.
func (r *recorder) missedOperations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	called := map[string]bool{}
	for _, e := range r.exchanges {
		called[e.operation] = true
	}
	var missed []string
	for path, item := range r.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !called[op.OperationID] {
				missed = append(missed, op.OperationID+" ("+method+" "+path+")")
			}
		}
	}
	slices.Sort(missed)
	return missed
}

// log returns every exchange, one a line, for a failure's message.
func (r *recorder) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.exchanges {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}
