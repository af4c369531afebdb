package body

import (
	"bytes"
	"fmt"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// sizeSlack is what an event's body may hold beyond what eventSize counts
// (field names, the device, the idempotency key, the time) while still
// being within MaxEventBytes: precheck refuses only what is certainly over.
const sizeSlack = 1 << 10

// precheck refuses, before anything is decoded, a body whose events are
// certainly too large or too many: a body of megabytes costs one reading
// of its bytes rather than its decoding (seconds of CPU for a body of small
// numbers). Anything it cannot judge, such as a body that is not JSON, it
// leaves to Check and the decoding, which decide exactly.
func precheck(body []byte) error {
	i := jsonbody.SkipSpace(body, 0)
	switch {
	case i == len(body):
		return nil
	case body[i] == '[':
		return precheckBatch(body, i)
	case body[i] != '{':
		return nil
	}
	// An object is one event, unless it has the member "events".
	size := 1
	for j := jsonbody.SkipSpace(body, i+1); j < len(body) && body[j] != '}'; {
		kend, ksize, ok := jsonbody.Value(body, j)
		if !ok || body[j] != '"' || bytes.IndexByte(body[j:kend], '\\') >= 0 {
			return nil
		}
		key := body[j:kend]
		if j = jsonbody.SkipSpace(body, kend); j == len(body) || body[j] != ':' {
			return nil
		}
		if string(key) == `"events"` {
			return precheckBatch(body, jsonbody.SkipSpace(body, j+1))
		}
		vend, vsize, ok := jsonbody.Value(body, j+1)
		if !ok {
			return nil
		}
		size += ksize + 1 + vsize + 1 // the colon, and a comma or the closing brace
		if j = jsonbody.SkipSpace(body, vend); j < len(body) && body[j] == ',' {
			j = jsonbody.SkipSpace(body, j+1)
		}
	}
	if size > eventstore.MaxEventBytes+sizeSlack {
		return &TooLargeError{Field: "body", Size: size}
	}
	return nil
}

// precheckBatch looks at the array at body[i]: more than MaxBatch elements,
// or one that is certainly over MaxEventBytes, is refused.
func precheckBatch(body []byte, i int) error {
	if i >= len(body) || body[i] != '[' {
		return nil
	}
	for n, j := 0, jsonbody.SkipSpace(body, i+1); j < len(body) && body[j] != ']'; n++ {
		if n == eventstore.MaxBatch {
			return &eventstore.FieldError{Field: "events", Message: fmt.Sprintf("must hold 1 to %d events, not more", eventstore.MaxBatch)}
		}
		end, size, ok := jsonbody.Value(body, j)
		if !ok {
			return nil
		}
		if size > eventstore.MaxEventBytes+sizeSlack {
			return &TooLargeError{Field: fmt.Sprintf("events[%d]", n), Size: size}
		}
		if j = jsonbody.SkipSpace(body, end); j < len(body) && body[j] == ',' {
			j = jsonbody.SkipSpace(body, j+1)
		}
	}
	return nil
}
