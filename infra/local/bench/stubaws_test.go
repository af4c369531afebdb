package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// stubAWS answers the calls the functions make on their first requests,
// DynamoDB's (JSON 1.0) and Secrets Manager's (JSON 1.1), with answers of
// the services' form, so that each handler takes its normal path: an event
// item for a read of an event (version 2, holding its newest update), a
// full page of events for a device listing (with a next key, so the
// listing signs a page token), counter items for an aggregate, a
// watermark of two days ago (nothing to compact), the page-token key's
// AWSCURRENT and AWSPREVIOUS versions, and an empty success for writes. A
// call of another operation is refused, so a function that described its
// table or fetched something at start fails rather than looks fast.
//
// Answers are encoded once per distinct request and kept, so that the
// stub's own work (a page of a hundred events) is not counted in the
// functions' times after the first round. Every call is recorded, for
// take.
func stubAWS() *stub {
	s := &stub{}
	answers := map[string][]byte{}
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		var in stubRequest
		if err == nil {
			err = json.Unmarshal(raw, &in)
		}
		if err != nil {
			stubError(w, "SerializationException", err.Error())
			return
		}
		target := r.Header.Get("X-Amz-Target")
		key := fmt.Sprint(target, in) // fmt prints maps sorted
		s.mu.Lock()
		if attempt := r.Header.Get("Amz-Sdk-Request"); attempt == "" || strings.HasPrefix(attempt, "attempt=1;") {
			// A retry is the same call again: the SDK retries one that
			// loses its connection while reading the answer (a race in
			// the transport, aws/aws-sdk-go-v2#2935), here as in AWS.
			s.calls = append(s.calls, recordedCall{Target: target, Body: raw})
		}
		body, ok := answers[key]
		s.mu.Unlock()
		if !ok {
			out, err := stubAnswer(target, in)
			if err != nil {
				stubError(w, "UnknownOperationException", err.Error())
				return
			}
			body, _ = json.Marshal(out)
			s.mu.Lock()
			answers[key] = body
			s.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Requestid", "stub")
		_, _ = w.Write(body)
	})
	return s
}

// stub is stubAWS's handler and what it recorded.
type stub struct {
	http.Handler
	mu    sync.Mutex
	calls []recordedCall
}

// recordedCall is one call the stub answered: what testdata/hellosdkcalls
// makes again (HELLOSDK_CALLS).
type recordedCall struct {
	Target string `json:"target"`
	Body   []byte `json:"body"`
}

// take returns the calls answered since the last take.
func (s *stub) take() []recordedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

// stubAnswer is the answer to one request.
func stubAnswer(target string, in stubRequest) (any, error) {
	var out any
	switch target {
	case "DynamoDB_20120810.TransactWriteItems":
		out = map[string]any{"ConsumedCapacity": []any{capacity(7)}}
	case "DynamoDB_20120810.PutItem", "DynamoDB_20120810.UpdateItem":
		out = map[string]any{"ConsumedCapacity": capacity(1)}
	case "DynamoDB_20120810.BatchWriteItem":
		out = map[string]any{"UnprocessedItems": map[string]any{}, "ConsumedCapacity": []any{capacity(1)}}
	case "DynamoDB_20120810.GetItem":
		out = getItem(in.Key)
	case "DynamoDB_20120810.Query":
		out = query(in)
	case "secretsmanager.GetSecretValue":
		out = secretValue(in)
	default:
		return nil, fmt.Errorf("the benchmark's stub does not answer %q", target)
	}
	return out, nil
}

// stubRequest is what the stub reads of a request.
type stubRequest struct {
	Key                       map[string]attr
	ExpressionAttributeValues map[string]attr
	Limit                     int
	SecretID                  string `json:"SecretId"`
	VersionStage              string
}

type attr struct{ S, N string }

func stubError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func capacity(units float64) map[string]any {
	return map[string]any{"TableName": "events", "CapacityUnits": units}
}

func attrS(v string) map[string]string { return map[string]string{"S": v} }
func attrN(v int64) map[string]string  { return map[string]string{"N": strconv.FormatInt(v, 10)} }

// getItem answers a GetItem: the event, a watermark, or a counter.
func getItem(key map[string]attr) any {
	pk, sk := key["pk"].S, key["sk"].S
	var item map[string]any
	switch {
	case strings.HasPrefix(pk, "D#"):
		item = eventItem(strings.TrimPrefix(pk, "D#"), sk, 2)
	case strings.HasPrefix(pk, "Y#"):
		return map[string]any{"Item": apiKeyItem(pk, sk), "ConsumedCapacity": capacity(1)}
	case sk == "W":
		// Compaction has reached the day before yesterday: the first read
		// of a device read since has nothing to fold.
		item = map[string]any{"pk": attrS(pk), "sk": attrS(sk), "day": attrS(time.Now().UTC().AddDate(0, 0, -2).Format("20060102"))}
	default:
		item = counterItem(pk, sk)
	}
	return map[string]any{"Item": item, "ConsumedCapacity": capacity(0.5)}
}

// query answers a Query by its partition: a device's events, an event's
// history (none), or counters.
func query(in stubRequest) any {
	var pk string
	var sks []string
	for _, v := range in.ExpressionAttributeValues {
		switch {
		case strings.Contains(v.S, "#"):
			pk = v.S
		case v.S != "":
			sks = append(sks, v.S)
		}
	}
	var items []map[string]any
	var last map[string]any
	switch {
	case strings.HasPrefix(pk, "D#"):
		// A device with more events than the page: Limit events, newest
		// first, and a key to go on from.
		device := strings.TrimPrefix(pk, "D#")
		t := time.Now().Add(-time.Hour)
		for i := range max(in.Limit, 1) {
			items = append(items, eventItem(device, eventID(t.Add(-time.Duration(i)*time.Minute), i), 1))
		}
		end := items[len(items)-1]
		last = map[string]any{"pk": end["pk"], "sk": end["sk"]}
	case strings.HasPrefix(pk, "U#"):
	default:
		lo := ""
		for _, v := range sks {
			if lo == "" || v < lo {
				lo = v
			}
		}
		items = append(items, counterItem(pk, lo))
	}
	out := map[string]any{"Items": items, "Count": len(items), "ScannedCount": len(items),
		"ConsumedCapacity": capacity(float64(len(items)+1) / 2)}
	if last != nil {
		out["LastEvaluatedKey"] = last
	}
	return out
}

// eventItem is a DeLaval event as the store keeps it, at version; from
// version 2 on it holds its newest update.
func eventItem(device, id string, version int64) map[string]any {
	created := time.Now().Add(-time.Hour).UnixMilli()
	item := map[string]any{
		"pk": attrS("D#" + device), "sk": attrS(id), "gpk": attrS("get-greengrass-configurations#2"),
		"type": attrS("get-greengrass-configurations"), "created": attrN(created), "updated": attrN(created),
		"status": attrS("Failed"), "severity": attrS("info"), "state": attrS("new"),
		"text":    attrS("Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment"),
		"data":    attrS(`{"function":"get-greengrass-configurations","group":"b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a"}`),
		"version": attrN(version), "expiresAt": attrN(time.Now().Add(90 * 24 * time.Hour).Unix()), "cs": attrN(6),
	}
	if version > 1 {
		item["state"] = attrS("acknowledged")
		item["updated"] = attrN(created + 60_000)
		item["upd"] = map[string]any{"M": map[string]any{
			"t": attrN(created + 60_000), "by": attrS("registry"), "c": attrS(`{"state":"acknowledged"}`),
		}}
	}
	return item
}

// apiKeyItem is the lookup item of benchKey, as the store keeps it: its
// secret hashed under the pepper the stub serves (its secret value).
func apiKeyItem(pk, sk string) map[string]any {
	mac := hmac.New(sha256.New, []byte(pageTokenKeys["AWSCURRENT"]))
	mac.Write([]byte(benchKeySecret))
	return map[string]any{
		"pk": attrS(pk), "sk": attrS(sk), "name": attrS("door sensor"),
		"scopes":    map[string]any{"L": []any{attrS("events/read"), attrS("events/write")}},
		"anyDevice": map[string]any{"BOOL": true}, "created": attrN(time.Now().Add(-24 * time.Hour).UnixMilli()),
		"hash": map[string]any{"B": base64.StdEncoding.EncodeToString(mac.Sum(nil))},
	}
}

// counterItem is a counter item with a few hours counted.
func counterItem(pk, sk string) map[string]any {
	return map[string]any{"pk": attrS(pk), "sk": attrS(sk), "h": attrN(3), "i": attrN(12), "j": attrN(1), "y": attrN(4)}
}

// eventID is a valid event id (a ULID) of time t.
func eventID(t time.Time, i int) string {
	var entropy [10]byte
	entropy[9] = byte(i)
	id, err := ulid.New(ulid.Timestamp(t), strings.NewReader(string(entropy[:])))
	if err != nil {
		panic(err) // a time before 10889 AD always makes an id
	}
	return id.String()
}

// pageTokenKeys are the page-token key's two versions; the current one is
// the API keys' pepper too (the stub serves it for any secret).
var pageTokenKeys = map[string]string{
	"AWSCURRENT":  "k2bM9xQ4vR7tY1wE5uI8oP3aS6dF0gHj",
	"AWSPREVIOUS": "Zx8Cv4Bn1Mq7Lw3Ke9Jr5Ht2Gy6Fu0Dp",
}

func secretValue(in stubRequest) any {
	stage := in.VersionStage
	if stage == "" {
		stage = "AWSCURRENT"
	}
	return map[string]any{
		"ARN": in.SecretID, "Name": "page-token-key", "SecretString": pageTokenKeys[stage],
		"VersionId": "v-" + stage, "VersionStages": []string{stage}, "CreatedDate": 1.7e9,
	}
}

// xrayDaemon is the UDP socket of Lambda's X-Ray daemon for one process:
// it counts the subsegment documents of AWS SDK calls it receives.
type xrayDaemon struct{ conn *net.UDPConn }

func listenXRay() (*xrayDaemon, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return &xrayDaemon{conn: conn}, nil
}

func (d *xrayDaemon) addr() string { return d.conn.LocalAddr().String() }

// subsegment waits for the next document, at most wait, and returns it.
func (d *xrayDaemon) subsegment(wait time.Duration) (map[string]any, error) {
	if err := d.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	nr, err := d.conn.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("no X-Ray subsegment: %w", err)
	}
	header, doc, ok := strings.Cut(string(buf[:nr]), "\n")
	if !ok || !strings.Contains(header, `"format"`) {
		return nil, fmt.Errorf("not a daemon document: %q", buf[:nr])
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(doc), &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *xrayDaemon) close() { _ = d.conn.Close() }
