package timestamp

import (
	"testing"
	"time"
)

func TestParseAcceptsTheContractsForms(t *testing.T) {
	want := time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-22T10:15:30Z", want},
		{"2026-11-22T10:15:30.123Z", want.Add(123 * time.Millisecond)},
		{"2026-11-22T11:15:30+01:00", want},
		{"2026-11-22T11:15:30 01:00", want}, // '+' decoded to a space
		{"2026-11-22t10:15:30z", want},
		{"2026-11-22T04:45:30.5-05:30", want.Add(500 * time.Millisecond)},
		{"2026-11-23T10:14:30+23:59", want},
		{"2026-11-21T10:16:30-23:59", want},
		{"1763806530", time.Unix(1763806530, 0).UTC()},
		{"1763806530.25", time.Unix(1763806530, 250_000_000).UTC()},
		{"0", time.Unix(0, 0).UTC()},
	}
	for _, tc := range cases {
		got, err := Parse(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRejectsEverythingElse(t *testing.T) {
	for _, in := range []string{"", "-1", "-1763806530", "1e9", "0x10", "1.", ".5", "1.2.3", "now", "yesterday",
		"2026-11-22", "2026-11-22 10:15:30", "2026-11-22T10:15:30", "2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z",
		"99999999999999999999", "253402300800", " 1763806530", "1763806530 ", "２０２６"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}

func TestFormatWritesMillisecondsInUTC(t *testing.T) {
	in := time.Date(2026, 11, 22, 11, 15, 30, 123_456_789, time.FixedZone("", 3600))
	if got := Format(in, false); got != "2026-11-22T10:15:30.123Z" {
		t.Errorf("Format iso = %v, want 2026-11-22T10:15:30.123Z", got)
	}
	if got := Format(in, true); got != int64(1795342530123) {
		t.Errorf("Format unix = %v, want 1795342530123", got)
	}
}

func TestParseRejectsOffsetsBeyond2359(t *testing.T) {
	for _, in := range []string{"2026-11-22T10:15:30+24:00", "2026-11-22T10:15:30-24:00", "2026-11-22T10:15:30+23:60",
		"2026-11-22T10:15:30+00:60", "2026-11-22T10:15:30-00:99", "2026-11-22T10:15:30+99:00", "2026-11-22T10:15:30 24:00"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}
