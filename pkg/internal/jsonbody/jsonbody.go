// Package jsonbody is the service's JSON at its strictest and its
// leanest: Check reads request bodies as strict JSON, Value measures a value
// as Marshal would write it without decoding it, and Marshal writes JSON
// without HTML escapes.
//
// encoding/json forgives what an API should not: it replaces invalid UTF-8,
// lets a duplicated key silently win, and accepts trailing garbage after a
// value. Check rejects all three before any decoding, so that what is stored
// is exactly what the client meant.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Error says why a body is not acceptable JSON.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// MaxDepth bounds nesting while checking, well above what any field allows,
// so a hostile body cannot make the check itself expensive.
const MaxDepth = 64

// Check validates b as one strict JSON value.
func Check(b []byte) error {
	if !utf8.Valid(b) {
		return &Error{"body is not valid UTF-8"}
	}
	if json.Valid(b) && plain(b) {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := checkValue(d, 0); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return &Error{"body has data after the JSON value"}
	}
	return nil
}

func checkValue(d *json.Decoder, depth int) error {
	tok, err := d.Token()
	if err != nil {
		return syntaxError(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= MaxDepth {
		return &Error{fmt.Sprintf("body is nested more than %d levels", MaxDepth)}
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return syntaxError(err)
			}
			k := kt.(string)
			if seen[k] {
				return &Error{fmt.Sprintf("duplicate key %q", k)}
			}
			seen[k] = true
			if err := checkValue(d, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for d.More() {
			if err := checkValue(d, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := d.Token(); err != nil { // the closing delimiter
		return syntaxError(err)
	}
	return nil
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{"body is not complete JSON"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{fmt.Sprintf("body is not JSON (at byte %d)", se.Offset)}
	}
	return &Error{"body is not JSON"}
}
