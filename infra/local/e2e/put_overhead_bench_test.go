package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/fleetlog/device-events/infra/local/awslocal"
	"github.com/fleetlog/device-events/infra/local/devstack"
	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/function"
	"github.com/fleetlog/device-events/pkg/routes"
)

// recorder keeps the transactions a store sends.
type recorder struct {
	*dynamodb.Client
	sent []*dynamodb.TransactWriteItemsInput
}

func (r *recorder) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.sent = append(r.sent, in)
	return r.Client.TransactWriteItems(ctx, in, opts...)
}

// BenchmarkPutOverhead compares puts through the whole local path (HTTP,
// the local gateway and its JWT check, the API Gateway event through JSON
// and the Runtime API to the put-event bootstrap, its handler and store,
// the local AWS endpoint, DynamoDB Local) with the bare SDK call
// the store makes for the same event: the same TransactWriteItems, built
// once and sent again with a fresh event id each time, in the same process
// by a client configured as the functions' (function.DynamoDB, with
// put-event's role through the local AWS endpoint, as the stack's
// store has). Each round times puts one way and then the other,
// alternating which goes first; overhead-ratio is the median rate of the
// bare calls over the median rate through the API. One b.N is one round.
func BenchmarkPutOverhead(b *testing.B) {
	const perRound = 10
	st := stacktest.New(b)
	const device = "e8613951-216a-4ad7-85e3-dd963d0823c4"
	body, _ := json.Marshal(map[string]string{
		"deviceid":    device,
		"status":      "Failed",
		"description": "Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment",
		"function":    "get-greengrass-configurations",
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	url := st.URL + "/devices/" + device + "/events"
	viaAPI := func() {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+st.Token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("POST %s: %d, want 201", url, res.StatusCode)
		}
	}

	// The transaction the store sends for this event, as the template of
	// the bare calls.
	ctx := context.Background()
	// The bare calls take the path the function's take: put-event's role,
	// through the local AWS endpoint (its signature and IAM checks) to
	// DynamoDB Local.
	role := awslocal.PrincipalFor(routes.PutEvent, routes.Permissions[routes.PutEvent], awslocal.Resources{Table: st.Table}, devstack.Region, devstack.AccountID)
	b.Setenv("AWS_ACCESS_KEY_ID", role.AccessKeyID)
	b.Setenv("AWS_SECRET_ACCESS_KEY", role.SecretAccessKey)
	b.Setenv("AWS_SESSION_TOKEN", "")
	b.Setenv("AWS_REGION", devstack.Region)
	db, _, err := function.DynamoDB(ctx, st.AWSEndpoint)
	if err != nil {
		b.Fatal(err)
	}
	rec := &recorder{Client: db}
	if _, err := eventstore.New(rec, st.Table, eventstore.Options{Retention: -1}).Put(ctx, eventstore.PutRequest{Events: []eventstore.NewEvent{{
		DeviceID: device, Type: "get-greengrass-configurations", Status: "Failed",
		Text: "Group b76f7a1c-2f5e-4b3f-9a0e-5d2f1c0e9b7a won't be pushed, because pkg_spiderman_gwip is missing from the deployment",
	}}}); err != nil || len(rec.sent) != 1 || rec.sent[0].TransactItems[0].Put == nil {
		b.Fatalf("recording the store's transaction: %v (%d sent)", err, len(rec.sent))
	}
	template := rec.sent[0]
	// withFreshID returns the template with a new event id: the put is
	// conditional on the event not existing yet.
	withFreshID := func() *dynamodb.TransactWriteItemsInput {
		in := *template
		in.ClientRequestToken = nil // the SDK fills in a new one, as for the store's calls
		in.TransactItems = slices.Clone(template.TransactItems)
		put := *in.TransactItems[0].Put
		put.Item = maps.Clone(put.Item)
		put.Item[eventstore.SortKey] = &types.AttributeValueMemberS{Value: ulid.MustNew(ulid.Now(), rand.Reader).String()}
		in.TransactItems[0].Put = &put
		return &in
	}
	bare := func(inputs []*dynamodb.TransactWriteItemsInput) {
		for _, in := range inputs {
			if _, err := db.TransactWriteItems(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	api := func() {
		for range perRound {
			viaAPI()
		}
	}
	inputs := func() []*dynamodb.TransactWriteItemsInput {
		out := make([]*dynamodb.TransactWriteItemsInput, perRound)
		for i := range out {
			out[i] = withFreshID()
		}
		return out
	}
	rate := func(f func()) float64 {
		start := time.Now()
		f()
		return perRound / time.Since(start).Seconds()
	}

	// Warm up both paths: connections, and DynamoDB Local's JIT.
	api()
	bare(inputs())
	var apiRates, bareRates []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		in := inputs()
		b.StartTimer()
		if i%2 == 0 {
			apiRates = append(apiRates, rate(api))
			bareRates = append(bareRates, rate(func() { bare(in) }))
		} else {
			bareRates = append(bareRates, rate(func() { bare(in) }))
			apiRates = append(apiRates, rate(api))
		}
	}
	b.StopTimer()
	b.ReportMetric(median(apiRates), "api-puts/s")
	b.ReportMetric(median(bareRates), "sdk-puts/s")
	b.ReportMetric(median(bareRates)/median(apiRates), "overhead-ratio")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
