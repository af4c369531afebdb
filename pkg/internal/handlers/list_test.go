package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/dynamodblocal"
	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/pagetoken"
	"github.com/fleetlog/device-events/pkg/routes"
)

// newListStore returns a store over a fresh table in DynamoDB Local and
// the list-events and delete-event functions over it.
func newListStore(tb testing.TB) (*eventstore.Store, *Function, *Function) {
	tb.Helper()
	client := ddbtest.Client(tb)
	table := ddbtest.Table(tb, client, dynamodblocal.TableDefinition{Create: eventstore.CreateTableInput, TTL: eventstore.TimeToLiveInput})
	store := eventstore.New(client, table, eventstore.Options{Retention: -1})
	signer, err := pagetoken.NewSigner([]byte("list-test-page-token-key-0123456789"))
	if err != nil {
		tb.Fatal(err)
	}
	fn := func(name string) *Function {
		f, err := New(name, Deps{Store: store, PageTokens: func(context.Context) (*pagetoken.Signer, error) { return signer, nil }})
		if err != nil {
			tb.Fatal(err)
		}
		return f
	}
	return store, fn(routes.ListEvents), fn(routes.DeleteEvent)
}

// invokeAnswer is one HTTP API answer of a function, with its size as the Lambda
// runtime sends it back (aws-lambda-go: encoding/json, HTML escaping off).
type invokeAnswer struct {
	status  int
	body    map[string]any
	payload int
}

func call(tb testing.TB, f *Function, route, path, query string) invokeAnswer {
	tb.Helper()
	out, err := apigw.Invoke(context.Background(), f, httpReq{route: route, path: path, query: query}.event(tb, "list-test"))
	if err != nil {
		tb.Fatalf("Invoke: %v, want an answer", err)
	}
	var payload bytes.Buffer
	enc := json.NewEncoder(&payload)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		tb.Fatal(err)
	}
	res := out.(events.APIGatewayV2HTTPResponse)
	a := invokeAnswer{status: res.StatusCode, payload: payload.Len()}
	d := json.NewDecoder(strings.NewReader(res.Body))
	d.UseNumber()
	if err := d.Decode(&a.body); err != nil {
		tb.Fatalf("body %.200s: %v", res.Body, err)
	}
	return a
}

// maxEvent is an event of eventType whose JSON is just under the 256 KiB
// the contract allows, made of what grows most once the body is escaped
// again in the Lambda payload: quotes, each two bytes in the JSON and four
// in the payload.
func maxEvent(tb testing.TB, device, eventType string, at time.Time) eventstore.NewEvent {
	tb.Helper()
	ev := eventstore.NewEvent{DeviceID: device, Type: eventType, Time: at, Severity: eventstore.SeverityWarning,
		Data: map[string]any{"q": strings.Repeat(`"`, 130_000)}}
	b, err := marshalJSON(render(eventstore.Event{ID: "01KAZ2V3MJ2Y8Y3KPNJ6Y1E2VX", DeviceID: device, Type: eventType, Time: at,
		Severity: ev.Severity, State: eventstore.StateNew, Data: ev.Data, Updates: []eventstore.Update{}, Version: 1}, false))
	if err != nil || len(b) > eventstore.MaxEventBytes || len(b) < eventstore.MaxEventBytes-2048 {
		tb.Fatalf("a maximal event is %d bytes of JSON (%v), want just under %d", len(b), err, eventstore.MaxEventBytes)
	}
	return ev
}

// worstCaseAnswers seeds the largest events (one device with 12, and ten
// types of 3 events each across devices) and pages the listings that read
// most of them at once: a device, the ten types, and the fleet's alarms,
// at the largest page size. It returns every answer's payload size and
// the events each listing gave.
func worstCaseAnswers(tb testing.TB) (payloads []int, listed map[string][]string, want map[string]int) {
	tb.Helper()
	store, list, _ := newListStore(tb)
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var types []string
	for i := range 10 {
		types = append(types, fmt.Sprintf("big-%d", i))
	}
	put := func(ev eventstore.NewEvent) {
		if _, err := store.Put(context.Background(), eventstore.PutRequest{Events: []eventstore.NewEvent{ev}}); err != nil {
			tb.Fatalf("Put: %v", err)
		}
	}
	for i := range 12 {
		put(maxEvent(tb, "d-big", "big-device", start.Add(time.Duration(i)*time.Second)))
	}
	for i := range 30 {
		put(maxEvent(tb, fmt.Sprintf("d-%d", i%4), types[i%10], start.Add(time.Duration(i)*time.Minute)))
	}
	listings := []struct{ name, route, path, query string }{
		{"a device", "GET /devices/{deviceId}/events", "/devices/d-big/events", "limit=1000"},
		{"ten types across devices", "GET /events", "/events", url.Values{"type": {strings.Join(types, ",")}, "limit": {"1000"}}.Encode()},
		{"the fleet's alarms", "GET /events", "/events", "severity=warning&limit=1000"},
	}
	listed, want = map[string][]string{}, map[string]int{"a device": 12, "ten types across devices": 30, "the fleet's alarms": 42}
	for _, l := range listings {
		query := l.query
		for pages := 0; ; pages++ {
			if pages > 50 {
				tb.Fatalf("%s: still paging after 50 pages", l.name)
			}
			a := call(tb, list, l.route, l.path, query)
			if a.status != 200 {
				tb.Fatalf("%s: status %d, want 200: %v", l.name, a.status, a.body)
			}
			payloads = append(payloads, a.payload)
			for _, e := range a.body["events"].([]any) {
				listed[l.name] = append(listed[l.name], e.(map[string]any)["id"].(string))
			}
			tok, _ := a.body["nextPageToken"].(string)
			if tok == "" {
				break
			}
			query = l.query + "&pageToken=" + url.QueryEscape(tok)
		}
	}
	return payloads, listed, want
}

// TestListAnswersFitLambdasPayload pages listings of the largest events
// with the largest page: each answer stays within the 6 MB Lambda returns
// (a page stops early by bytes), and the pages together hold every event
// once.
func TestListAnswersFitLambdasPayload(t *testing.T) {
	payloads, listed, want := worstCaseAnswers(t)
	most := slices.Max(payloads)
	if most > lambdaPayloadLimit {
		t.Errorf("the largest answer is %d bytes, want at most %d", most, lambdaPayloadLimit)
	}
	if most < 5<<20 { // uncut, the ten types' first page would be 15 MB
		t.Errorf("the largest answer is %d bytes: no page came near the limit, so it was not tested", most)
	}
	for name, ids := range listed {
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%s: event %s listed twice", name, id)
			}
			seen[id] = true
		}
		if len(seen) != want[name] {
			t.Errorf("%s: %d events listed, want %d", name, len(seen), want[name])
		}
	}
	t.Logf("%d answers, the largest %d bytes", len(payloads), most)
}

// BenchmarkListAnswerSize reports the largest Lambda payload of the
// listings of TestListAnswersFitLambdasPayload (max-bytes).
func BenchmarkListAnswerSize(b *testing.B) {
	most := 0
	for range b.N {
		payloads, _, _ := worstCaseAnswers(b)
		most = max(most, slices.Max(payloads))
	}
	b.ReportMetric(float64(most), "max-bytes")
}

func TestPayloadBytesCountTheEscapingOfTheBody(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"a":"b"}`, `"\"<>&` + "\n\r\t\b\f\x01\x1f" + `é€😀` + "\u2028\u2029", strings.Repeat(`\"`, 100)} {
		res := events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: body}
		var withBody, without bytes.Buffer
		for _, w := range []*bytes.Buffer{&withBody, &without} {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(res); err != nil {
				t.Fatal(err)
			}
			res.Body = ""
		}
		if got, want := payloadBytes([]byte(body)), withBody.Len()-without.Len(); got != want {
			t.Errorf("payloadBytes(%q) = %d, want %d", body, got, want)
		}
	}
}

// TestFleetListingsNeedATypeUnlessTheyListAlarms: GET /events without a
// type lists the fleet's alarms when severity asks for alarms only.
func TestFleetListingsNeedATypeUnlessTheyListAlarms(t *testing.T) {
	store, list, _ := newListStore(t)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var evs []eventstore.NewEvent
	for i, sev := range []eventstore.Severity{"info", "warning", "error", "critical", "info", "critical"} {
		evs = append(evs, eventstore.NewEvent{DeviceID: fmt.Sprintf("d%d", i%2), Type: fmt.Sprintf("t%d", i%3), Severity: sev, Time: at.Add(time.Duration(i) * time.Second)})
	}
	if _, err := store.Put(context.Background(), eventstore.PutRequest{Events: evs}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query  string
		status int
		count  int
	}{
		{"severity=critical", 200, 2},
		{"severity=warning,error,critical", 200, 4},
		{"severity=error,critical&state=new", 200, 3},
		{"severity=critical&state=resolved", 200, 0},
		{"severity=warning,critical&type=t2", 200, 1},
		{"severity=info,critical", 400, 0},
		{"state=new", 400, 0},
		{"", 400, 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("GET /events?%s is %d", tc.query, tc.status), func(t *testing.T) {
			a := call(t, list, "GET /events", "/events", tc.query)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %v", a.status, tc.status, a.body)
			}
			if tc.status != 200 {
				if a.body["parameter"] != "type" {
					t.Fatalf("parameter %v, want type: %v", a.body["parameter"], a.body)
				}
				return
			}
			if n := len(a.body["events"].([]any)); n != tc.count {
				t.Fatalf("%d events, want %d", n, tc.count)
			}
		})
	}
}

// TestBulkDeletePagesAndItsDryRunTokenIsNoDeleteToken: a dry run and a
// delete each page through 1 500 events, and neither takes the other's
// page token (a dry run's cursor passed events it did not delete).
func TestBulkDeletePagesAndItsDryRunTokenIsNoDeleteToken(t *testing.T) {
	store, _, del := newListStore(t)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for b := range 15 {
		var evs []eventstore.NewEvent
		for i := range 100 {
			evs = append(evs, eventstore.NewEvent{DeviceID: "d", Type: "x", Time: start.Add(time.Duration(b*100+i) * time.Minute)})
		}
		if _, err := store.Put(context.Background(), eventstore.PutRequest{Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	const route, path = "DELETE /devices/{deviceId}/events", "/devices/d/events"
	drain := func(query string) (deleted int64, calls int, firstToken string) {
		q := query
		for {
			a := call(t, del, route, path, q)
			if a.status != 200 {
				t.Fatalf("%s: status %d: %v", q, a.status, a.body)
			}
			n, _ := a.body["deleted"].(json.Number).Int64()
			deleted += n
			calls++
			tok, _ := a.body["nextPageToken"].(string)
			if calls == 1 {
				firstToken = tok
			}
			if tok == "" {
				return deleted, calls, firstToken
			}
			q = query + "&pageToken=" + url.QueryEscape(tok)
		}
	}
	dry, dryCalls, dryToken := drain("type=x&dryRun=true")
	if dry != 1500 || dryCalls < 2 || dryToken == "" {
		t.Fatalf("the dry run counted %d in %d calls, want 1500 in more than one", dry, dryCalls)
	}
	if a := call(t, del, route, path, "type=x&pageToken="+url.QueryEscape(dryToken)); a.status != 400 || a.body["error"] != apierror.InvalidPageToken {
		t.Fatalf("a delete with the dry run's token: %d %v, want 400 %s", a.status, a.body, apierror.InvalidPageToken)
	}
	first := call(t, del, route, path, "type=x")
	tok, _ := first.body["nextPageToken"].(string)
	if first.status != 200 || tok == "" {
		t.Fatalf("the first delete: %d %v, want 200 with a token", first.status, first.body)
	}
	if a := call(t, del, route, path, "type=x&dryRun=true&pageToken="+url.QueryEscape(tok)); a.status != 400 || a.body["error"] != apierror.InvalidPageToken {
		t.Fatalf("a dry run with a delete's token: %d %v, want 400 %s", a.status, a.body, apierror.InvalidPageToken)
	}
	firstN, _ := first.body["deleted"].(json.Number).Int64()
	rest, _, _ := drain("type=x")
	if firstN+rest != 1500 {
		t.Fatalf("the deletes removed %d + %d, want 1500", firstN, rest)
	}
	if left, _, _ := drain("type=x&dryRun=true"); left != 0 {
		t.Fatalf("%d events left, want none", left)
	}
}
