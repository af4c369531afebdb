package timestamp

import (
	"fmt"
	"testing"
	"time"
)

// FuzzParse feeds anything to Parse. It must never panic, and a time it
// accepts is in range, in UTC, and comes back from both of the API's
// written forms (RFC 3339 and Unix seconds with milliseconds) within the
// millisecond the API writes.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if got.Before(Min) || got.After(Max) {
			t.Fatalf("Parse(%q) = %v, want a time from %v to %v", s, got, Min, Max)
		}
		if got.Location() != time.UTC {
			t.Fatalf("Parse(%q) = %v in %v, want UTC", s, got, got.Location())
		}
		iso := FormatISO(got)
		ms := got.UnixMilli()
		unix := fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
		for _, written := range []string{iso, unix} {
			back, err := Parse(written)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, written %q, which Parse refuses: %v", s, got, written, err)
			}
			if d := got.Sub(back); d < 0 || d >= time.Millisecond {
				t.Fatalf("Parse(%q) = %v, written %q, read back %v: %v apart, want less than 1ms", s, got, written, back, d)
			}
		}
	})
}
