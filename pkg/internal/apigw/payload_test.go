package apigw

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetlog/device-events/pkg/internal/apigw/apigwtest"
)

// plainHTTPAPI decodes payload as Invoke did before decodeHTTPAPI: the
// event as events.APIGatewayV2HTTPRequest, the fields kindOf reads
// besides, and the same test of plainness. The fields httpAPIEvent does
// not keep are then emptied.
func plainHTTPAPI(payload []byte) (*events.APIGatewayV2HTTPRequest, bool) {
	var p struct {
		events.APIGatewayV2HTTPRequest
		HTTPMethod string `json:"httpMethod"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return nil, false
	}
	rc := &p.RequestContext
	if p.Version != "2.0" || (p.RouteKey == "" && p.RawPath == "") || (rc.RequestID == "" && rc.RouteKey == "" && rc.HTTP.Method == "") {
		return nil, false
	}
	rc.RouteKey, rc.AccountID, rc.Stage, rc.DomainName, rc.DomainPrefix, rc.Time = "", "", "", "", "", ""
	rc.HTTP.Protocol, rc.HTTP.SourceIP, rc.HTTP.UserAgent = "", "", ""
	return &p.APIGatewayV2HTTPRequest, true
}

// agreeWithPlain fails t unless decodeHTTPAPI reads payload as the plain
// decoding does: the same events (but for the fields it does not keep,
// which nothing reads), read into the same Request, and only events
// kindOf calls HTTP API events.
func agreeWithPlain(t *testing.T, payload []byte) {
	t.Helper()
	got, ok := decodeHTTPAPI(payload)
	want, wantOK := plainHTTPAPI(payload)
	if ok != wantOK {
		t.Fatalf("%s: read in one decoding %v, the plain way %v", payload, ok, wantOK)
	}
	if !ok {
		return
	}
	if kind := kindOf(payload); kind != kindHTTPAPI {
		t.Fatalf("%s: decoded as an HTTP API event, kindOf says %v", payload, kind)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decoded\n%#v\nwant\n%#v", payload, *got, *want)
	}
	var full events.APIGatewayV2HTTPRequest // every field kept: what fromHTTPAPI reads must be kept too
	if err := json.Unmarshal(payload, &full); err != nil {
		t.Fatal(err)
	}
	if namesDifferInCaseOnly(full.Headers) {
		return // fromHTTPAPI keeps either value, whichever the map gives last
	}
	r, rerr := fromHTTPAPI(got)
	wantR, wantErr := fromHTTPAPI(&full)
	if !reflect.DeepEqual(r, wantR) || !reflect.DeepEqual(rerr, wantErr) {
		t.Fatalf("%s: read as %+v, %v; want %+v, %v", payload, r, rerr, wantR, wantErr)
	}
}

// Invoke reads plain HTTP API events in one decoding (decodeHTTPAPI) and
// leaves every other payload to kindOf: whatever it takes must be what
// kindOf calls an HTTP API event, decoded as before.
func TestOneDecodingReadsHTTPAPIEventsAsBefore(t *testing.T) {
	for _, p := range httpAPISeeds(t) {
		agreeWithPlain(t, []byte(p))
	}
	if _, ok := decodeHTTPAPI(apigwtest.DelavalPut(t)); !ok {
		t.Error("a put from API Gateway was not read in one decoding")
	}
}

func namesDifferInCaseOnly(h map[string]string) bool {
	seen := map[string]bool{}
	for k := range h {
		if seen[strings.ToLower(k)] {
			return true
		}
		seen[strings.ToLower(k)] = true
	}
	return false
}

// TestEveryFieldOfAnHTTPAPIEventIsReadAsBefore sets each field of an HTTP
// API event in turn (and all of them at once): the one decoding keeps each
// one as the plain decoding does, but those it documents as unread. A
// field that fromHTTPAPI comes to read is thus either kept, or the Request
// differs and agreeWithPlain fails.
func TestEveryFieldOfAnHTTPAPIEventIsReadAsBefore(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"version": "2.0", "routeKey": "GET /devices/{deviceId}/events", "rawPath": "/devices/d/events",
			"requestContext": map[string]any{"requestId": "r"}}
	}
	all := base()
	paths := fieldPaths(reflect.TypeFor[events.APIGatewayV2HTTPRequest](), nil)
	if len(paths) < 30 {
		t.Fatalf("found %d fields in events.APIGatewayV2HTTPRequest, want them all", len(paths))
	}
	for _, fp := range paths {
		t.Run(strings.Join(fp.path, "."), func(t *testing.T) {
			e := base()
			set(e, fp.path, fp.value)
			set(all, fp.path, fp.value)
			payload, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			agreeWithPlain(t, payload)
		})
	}
	payload, _ := json.Marshal(all)
	agreeWithPlain(t, payload)
}

type fieldPath struct {
	path  []string
	value any
}

// fieldPaths lists the leaves of an event type by their JSON names, each
// with a value to set it to.
func fieldPaths(t reflect.Type, prefix []string) []fieldPath {
	var out []fieldPath
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		path := append(slices.Clone(prefix), name)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Struct:
			out = append(out, fieldPaths(ft, path)...)
		case reflect.String:
			out = append(out, fieldPath{path, "v-" + name})
		case reflect.Bool:
			out = append(out, fieldPath{path, true})
		case reflect.Int64:
			out = append(out, fieldPath{path, 7})
		case reflect.Slice:
			out = append(out, fieldPath{path, []string{"a-" + name, "b"}})
		case reflect.Map:
			out = append(out, fieldPath{path, map[string]any{"k-" + name: "v", "Content-Type": "text/plain"}})
		default:
			panic("fieldPaths: no value for " + ft.String())
		}
	}
	return out
}

func set(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// httpAPISeeds are payloads at the edges of what decodeHTTPAPI reads.
func httpAPISeeds(tb testing.TB) []string {
	return []string{
		string(apigwtest.DelavalPut(tb)),
		`{"version":"2.0","routeKey":"POST /devices/{deviceId}/events","rawPath":"/devices/d/events","requestContext":{}}`,
		`{"version":"2.0","routeKey":"$default","rawPath":"/x","requestContext":{"requestId":"r","http":{"method":"GET"}}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"},"httpMethod":"POST"}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"},"httpMethod":7}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"},"headers":{"a":1}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"routeKey":"\u0000"}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"routeKey":"x","routeKey":""}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"routeKey":null,"requestId":"r"}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":{"routeKey":7}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","stage":7}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","http":{"sourceIp":["x"]}}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","Stage":"s","STAGE":null}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{"A":"1","a":"2","b":null}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{"Content-Type":"text/plain","b":null}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{"x":"\"q\"","y":"caf\u00e9","z":"é"}}`,
		"{\"version\":\"2.0\",\"rawPath\":\"/d\",\"requestContext\":{\"requestId\":\"r\"},\"headers\":{\"z\":\"\xff\"}}",
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{"a":"1"},"headers":{"b":"2"}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{"a":"1"},"headers":null}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{}, "pathParameters" : { "deviceId" : "d" , "eventId":"é" } }`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":[]}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":"a"}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r"},"headers":{"a":{"b":"c"}}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","authorizer":{"jwt":{"claims":{"sub":"s","scope":"events/read"},"scopes":null}}}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","authorizer":{"jwt":null,"lambda":{"sub":"k","n":1}}}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","authorizer":{}}}`,
		`{"version":"2.0","rawPath":"/d","requestContext":{"requestId":"r","authorizer":null}}`,
		`{"version":"2.0","requestContext":{"requestId":"r"}}`,
		`{"version":"2.0","rawPath":"/devices/d/events","requestContext":null}`,
		`{"version":"1.0","rawPath":"/devices/d/events","requestContext":{"requestId":"r"}}`,
		`{"resource":"/devices/{deviceId}/events","httpMethod":"GET","path":"/devices/d/events","requestContext":{"requestId":"r"}}`,
		`{"deviceid":"d","function":"f","status":"x","description":"y"}`,
		`[{"deviceId":"d","type":"a"}]`,
		`not json`,
	}
}

// FuzzHTTPAPIEventDecoding holds decodeHTTPAPI to the plain decoding on
// any payload.
func FuzzHTTPAPIEventDecoding(f *testing.F) {
	for _, p := range httpAPISeeds(f) {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		agreeWithPlain(t, payload)
	})
}

// FuzzFieldDecoders holds httpAPIEvent's field types to encoding/json's
// decoding of the fields they stand for: stringMap to a map[string]string
// (into nothing and into a map already there), jsonString to a string,
// nonEmpty to a string's being empty, unread to a string's errors.
func FuzzFieldDecoders(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"a":"1","b":null}`, ` { "a" : "1" , "a":"2" } `, `{"content-type":"application/json","x":"é"}`,
		`{"a":"\u00e9\n"}`, "{\"a\":\"\xff\"}", `{"\"":"x"}`, `{"a":1}`, `{"a":{"b":"c"}}`, `{"a":["b"]}`, `[]`, `7`, `true`,
		`""`, `"2.0"`, `"POST"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20AC\u0000"`, `"\ud83d\ude00"`, `"\ud83d"`, `"cafÃ©"`, "\"\xff\"", `"{\"type\":\"x\"}"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // encoding/json refuses it before any field's decoding
		}
		for _, before := range []map[string]string{nil, {"a": "0", "z": "0"}} {
			plain, lean := maps.Clone(before), stringMap(maps.Clone(before))
			perr, lerr := json.Unmarshal(data, &plain), json.Unmarshal(data, &lean)
			if (perr == nil) != (lerr == nil) {
				t.Fatalf("%s as a map into %v: error %v, want %v", data, before, lerr, perr)
			}
			if perr == nil && !reflect.DeepEqual(map[string]string(lean), plain) {
				t.Fatalf("%s as a map into %v: got %#v, want %#v", data, before, lean, plain)
			}
		}
		for _, before := range []string{"", "before"} {
			plain, lean, some := before, jsonString(before), nonEmpty(before != "")
			var none unread
			perr, lerr := json.Unmarshal(data, &plain), json.Unmarshal(data, &lean)
			nerr, uerr := json.Unmarshal(data, &some), json.Unmarshal(data, &none)
			if (perr == nil) != (lerr == nil) || (perr == nil) != (nerr == nil) || (perr == nil) != (uerr == nil) {
				t.Fatalf("%s as a string over %q: errors %v, %v, %v; want %v", data, before, lerr, nerr, uerr, perr)
			}
			if perr == nil && (string(lean) != plain || bool(some) != (plain != "")) {
				t.Fatalf("%s as a string over %q: got %q and non-empty %v, want %q", data, before, lean, some, plain)
			}
		}
	})
}
