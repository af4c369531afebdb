package body

import (
	"errors"
	"testing"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// FuzzDecodePut feeds put-event bodies to DecodePut, over HTTP (a device in the
// path) and as direct invokes (none). It must never panic; an error is one
// of the three kinds the API maps onto the contract (anything else would be
// a 500); a success holds 1-100 events that each pass validation, for the
// path's device when there is one.
func FuzzDecodePut(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, pathDevice string) {
		req, err := DecodePut(body, pathDevice, time.Now())
		if err != nil {
			var je *jsonbody.Error
			var fe *eventstore.FieldError
			var tl *TooLargeError
			if !errors.As(err, &je) && !errors.As(err, &fe) && !errors.As(err, &tl) {
				t.Fatalf("DecodePut(%q) error %T %v, want *jsonbody.Error, *eventstore.FieldError or *TooLargeError", body, err, err)
			}
			return
		}
		if n := len(req.Events); n < 1 || n > eventstore.MaxBatch || (!req.Batch && n != 1) {
			t.Fatalf("DecodePut(%q) = %d events (batch %v), want 1 to %d, and 1 unless a batch", body, n, req.Batch, eventstore.MaxBatch)
		}
		// Validate again with a later clock: the bound on future times only
		// moves out, so an event valid at decoding is valid now.
		now := time.Now()
		for i, ev := range req.Events {
			if err := ev.Validate(now); err != nil {
				t.Fatalf("DecodePut(%q): event %d does not validate: %v", body, i, err)
			}
			if pathDevice != "" && ev.DeviceID != pathDevice {
				t.Fatalf("DecodePut(%q, %q): event %d is for device %q, want the path's", body, pathDevice, i, ev.DeviceID)
			}
		}
	})
}
