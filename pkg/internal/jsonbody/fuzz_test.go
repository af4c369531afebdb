package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzCheck compares Check with encoding/json: Check is stricter, never
// looser. Whatever it accepts is valid JSON, valid UTF-8, and decodes; what
// it refuses, it refuses with an *Error. Its allocation-free shortcut
// (plain) and its token walk agree on every body.
func FuzzCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		if werr := walk(b); (err == nil) != (werr == nil) {
			t.Fatalf("Check(%q) = %v, but the token walk says %v", b, err, werr)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check(%q) = %T %v, want *Error", b, err, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Check(%q) accepted what json.Valid refuses", b)
		}
		if !utf8.Valid(b) {
			t.Fatalf("Check(%q) accepted invalid UTF-8", b)
		}
		// Numbers as json.Number: Check is about syntax, and 1e400 is JSON.
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("Check(%q) accepted what a json.Decoder refuses: %v", b, err)
		}
	})
}

// walk is Check without the shortcut: every body through the token walk.
func walk(b []byte) error {
	if !utf8.Valid(b) {
		return &Error{"body is not valid UTF-8"}
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

// FuzzValue holds Value to what it promises: on any body Check accepts,
// the size of what Marshal writes once the body is decoded, and its end;
// and Marshal to writing what a json.Encoder without HTML escaping writes.
func FuzzValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,true,null],"b":"x\"\\\/\b\f\n\r\t\u0001\u00e9\ud83d\ude00\ud800<>&"}`, `"\\u003c\u003c\\<"`, " [ \"\u2028\" , {} ] ", `"\udc00x"`, `-0.1E+5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if Check(b) != nil || d.Decode(&v) != nil {
			Value(b, 0) // must neither panic nor loop
			return
		}
		want, err := Marshal(v)
		if err != nil {
			return // a number json.Number cannot write back
		}
		var enc bytes.Buffer
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil || !bytes.Equal(want, bytes.TrimSuffix(enc.Bytes(), []byte("\n"))) {
			t.Fatalf("Marshal(%q) = %s, want what an Encoder without HTML escaping writes, %s", b, want, enc.Bytes())
		}
		end, size, ok := Value(b, 0)
		if !ok || size != len(want) || end != int(d.InputOffset()) {
			t.Fatalf("Value(%q) = end %d, size %d, %v; want end %d, size %d (%s)", b, end, size, ok, d.InputOffset(), len(want), want)
		}
	})
}
