// Package clients_test calls the device events API with the clients
// oapi-codegen and ogen generate from its OpenAPI documents, with their
// default options. infra/local/ecosystem generates them into this module's
// events/ and registry/ folders, serves a local stack and runs these tests
// against it.
package clients_test

import (
	"os"
	"testing"
	"time"
)

// eventTime is an event's time with milliseconds, as Unix seconds in a
// JSON number: a float32 would move it by a minute.
const (
	eventUnix = 1795342530.123
	eventISO  = "2026-11-22T10:15:30.123Z"
)

// env returns a variable the generating test sets.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("$%s is not set: infra/local/ecosystem's test runs these tests", name)
	}
	return v
}

func wantTime(t *testing.T, got time.Time) {
	t.Helper()
	if want, _ := time.Parse(time.RFC3339Nano, eventISO); !got.Equal(want) {
		t.Errorf("time = %s, want %s", got.Format(time.RFC3339Nano), eventISO)
	}
}

func ptr[T any](v T) *T { return &v }
