package eventsclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/fleetlog/device-events/pkg/eventsclient"
)

// These examples need a deployed API (or `make run`), so they are compiled
// but not run.

func Example() {
	ctx := context.Background()
	// The base URL is the stack's API URL; `make run` serves one on
	// http://127.0.0.1:3000 and writes a token to .local/dev-token.
	c, err := eventsclient.New("https://abc123.execute-api.eu-west-1.amazonaws.com",
		eventsclient.StaticToken(os.Getenv("EVENTS_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.PutEvents(ctx, "robot-7", []eventsclient.NewEvent{{
		Type:     "door_opened",
		Severity: eventsclient.SeverityWarning,
		Text:     "left open",
		Data:     map[string]any{"temp": 21.5},
	}}, eventsclient.WithIdempotencyKey("door-2026-11-22T10:15:30Z"))
	var apiErr *eventsclient.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == eventsclient.CodeInvalidEvent:
		log.Fatalf("field %s is wrong: %s", apiErr.Field, apiErr.Message)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("stored", res.Events[0].ID)

	for ev, err := range c.ListEvents(ctx, eventsclient.ListQuery{
		DeviceID:   "robot-7",
		From:       time.Now().Add(-24 * time.Hour),
		Severities: []eventsclient.Severity{eventsclient.SeverityWarning, eventsclient.SeverityError},
	}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Time, ev.Type, ev.Text)
	}
}

func ExampleNewDirect() {
	// In a Lambda function: build the client once, in main, and invoke
	// put-event directly (the role needs lambda:InvokeFunction on it).
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	events := eventsclient.NewDirect(lambda.NewFromConfig(cfg), os.Getenv("PUT_EVENT_FUNCTION"))

	_, err = events.PutEvents(ctx, "e8613951-216a-4ad7-85e3-dd963d0823c4", []eventsclient.NewEvent{{
		Type:   "get-greengrass-configurations",
		Status: "Failed",
		Text:   "Group b76f won't be pushed, because pkg_spiderman_gwip is missing",
	}})
	var apiErr *eventsclient.APIError
	if errors.As(err, &apiErr) {
		// A function error: Code is its errorType.
		log.Fatalf("put-event refused the event: %s: %s", apiErr.Code, apiErr.Message)
	}
}

func ExampleClient_DeleteEvents() {
	ctx := context.Background()
	c, err := eventsclient.New("http://127.0.0.1:3000", eventsclient.TokenFunc(func(context.Context) (string, error) {
		b, err := os.ReadFile(".local/dev-token")
		return strings.TrimSpace(string(b)), err
	}))
	if err != nil {
		log.Fatal(err)
	}
	q := eventsclient.BulkDeleteQuery{Types: []string{"heartbeat"}, To: time.Now().Add(-7 * 24 * time.Hour), DryRun: true}
	n, err := c.DeleteEvents(ctx, "robot-7", q)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "heartbeats older than a week would go")
}

// A device holding an API key calls the key API (the stack's KeysApiUrl;
// `make run` serves it on http://127.0.0.1:3002, `make apikey` makes a
// key), with the same calls.
func ExampleAPIKey() {
	c, err := eventsclient.New("https://def456.execute-api.eu-west-1.amazonaws.com",
		eventsclient.APIKey(os.Getenv("DEVICE_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.PutEvents(context.Background(), "door-north-1", []eventsclient.NewEvent{{Type: "door_opened"}}); err != nil {
		log.Fatal(err)
	}
}
