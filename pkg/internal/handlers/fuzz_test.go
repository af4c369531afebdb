package handlers

import (
	"net/http"
	"testing"

	"github.com/fleetlog/device-events/pkg/internal/body"
)

// FuzzDecodePatch feeds PATCH bodies to body.DecodePatch. It must never
// panic, and whatever it refuses is the caller's fault: a 4xx of the
// contract, never a 500.
func FuzzDecodePatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := body.DecodePatch(b)
		if err == nil {
			return
		}
		e, ours := asError(err)
		if !ours || e.Status() != http.StatusBadRequest {
			t.Fatalf("DecodePatch(%q) = %T %v, answered %d %s; want a 400", b, err, err, e.Status(), e.Code)
		}
	})
}
