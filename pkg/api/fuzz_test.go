package api

import (
	"net/http"
	"testing"
)

// FuzzDecodePatch feeds PATCH bodies to decodePatch. It must never panic,
// and whatever it refuses is the caller's fault: a 4xx of the contract,
// never a 500.
func FuzzDecodePatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodePatch(body)
		if err == nil {
			return
		}
		e, ours := asError(err)
		if !ours || e.Status != http.StatusBadRequest {
			t.Fatalf("decodePatch(%q) = %T %v, answered %d %s; want a 400", body, err, err, e.Status, e.Code)
		}
	})
}
