// Package timestamp reads the times the API accepts and writes the ones it
// returns.
//
// Requests give RFC 3339 / ISO 8601 times (2026-11-22T10:15:30Z, with or
// without a fraction, Z or an offset) or Unix seconds (1763806530, a
// fraction allowed). Responses use RFC 3339 in UTC with milliseconds, or
// Unix milliseconds.
package timestamp

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is returned for anything that is not one of the two forms.
var ErrInvalid = errors.New("not an ISO 8601 time or Unix seconds")

// ErrOutOfRange is returned for a time the API cannot hold or write back:
// before the Unix epoch (a negative Unix time) or after the last instant
// RFC 3339 can write.
var ErrOutOfRange = errors.New("not between 1970-01-01T00:00:00Z and the end of 9999")

// ErrOffset is returned for a time whose offset is outside ±23:59.
var ErrOffset = errors.New("offset outside ±23:59")

// maxUnix is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxUnix = 253402300799

// Min and Max are the first and last instants Parse accepts.
var (
	Min = time.Unix(0, 0).UTC()
	Max = time.Unix(maxUnix, int64(time.Second)-1).UTC()
)

// Parse reads a request time.
func Parse(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, ErrInvalid
	}
	if isUnix(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, ErrInvalid
		}
		if f >= maxUnix+1 {
			return time.Time{}, ErrOutOfRange
		}
		sec, frac := math.Modf(f)
		// Round the fraction to the millisecond: float64 cannot hold more
		// digits of a current Unix time exactly anyway.
		ms := int64(math.Round(frac * 1000))
		t := time.Unix(int64(sec), ms*int64(time.Millisecond)).UTC()
		if t.After(Max) { // rounded up into year 10000
			return time.Time{}, ErrOutOfRange
		}
		return t, nil
	}
	// RFC 3339 allows a lower-case t and z. A '+' offset arrives as a space
	// when a client did not encode it in a query string.
	s = strings.ToUpper(s)
	if i := strings.LastIndexByte(s, ' '); i > 10 && i == len(s)-6 && strings.Count(s, " ") == 1 {
		s = s[:i] + "+" + s[i+1:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.Contains(s, "T") {
		return time.Time{}, ErrInvalid
	}
	// time.Parse takes offsets up to +24:00 and minutes up to 60
	// (+23:60); RFC 3339 allows neither.
	if z := s[len(s)-6:]; z[0] == '+' || z[0] == '-' {
		if z[1:3] > "23" || z[4:6] > "59" {
			return time.Time{}, ErrOffset
		}
	}
	// An offset can carry a time written within years 0000-9999 outside
	// them in UTC, and the zero time.Time would read as "no time given".
	if t.Before(Min) || t.After(Max) {
		return time.Time{}, ErrOutOfRange
	}
	return t.UTC(), nil
}

func isUnix(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return true
}

// Format writes a response time: ISO (RFC 3339, UTC, milliseconds) unless
// unix is set, then Unix milliseconds.
func Format(t time.Time, unix bool) any {
	if unix {
		return t.UnixMilli()
	}
	return FormatISO(t)
}

// FormatISO writes t as 2026-11-22T10:15:30.123Z.
func FormatISO(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
