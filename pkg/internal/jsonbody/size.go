package jsonbody

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Marshal is json.Marshal without the escaping of <, > and & for HTML.
// Stored data and the API's answers are JSON read as JSON, never embedded
// in a page, and the escapes wrote six bytes for each of those characters:
// 43 KB of '<' in an event's data became a 256 KB item. It undoes the
// escapes in json.Marshal's output, in place, rather than encoding through
// a json.Encoder: that allocates an encoder and a growing buffer per call,
// on every answer, where json.Marshal allocates only its result.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || !bytes.Contains(b, []byte(`\u00`)) {
		return b, err
	}
	out := b[:0]
	for i := 0; i < len(b); {
		if b[i] != '\\' {
			out = append(out, b[i])
			i++
			continue
		}
		if c, ok := htmlEscape(b[i:]); ok {
			out = append(out, c)
			i += len(`\u003c`)
			continue
		}
		out = append(out, b[i], b[i+1]) // an escape pair, such as \\
		i += 2
	}
	return out, nil
}

// htmlEscape reads the escapes json.Marshal writes for HTML.
func htmlEscape(b []byte) (byte, bool) {
	if len(b) < 6 || string(b[:4]) != `\u00` {
		return 0, false
	}
	switch string(b[4:6]) {
	case "3c":
		return '<', true
	case "3e":
		return '>', true
	case "26":
		return '&', true
	}
	return 0, false
}

// Value finds the JSON value that begins at b[i] (after any white space)
// without decoding it, and returns where it ends and its size as Marshal
// writes it once decoded: white space dropped, escapes rewritten as
// encoding/json writes them (exact for a body Check accepts). It allocates
// nothing and reads each byte once, so that a body can be measured before
// it is decoded. ok is false when b holds no complete value there; it does
// not validate more than it needs to find the end, which is Check's job.
func Value(b []byte, i int) (end, size int, ok bool) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return i, 0, false
	}
	switch b[i] {
	case '"':
		n, e, ok := stringSize(b, i)
		return e, n, ok
	case '{', '[':
	default: // a number or a literal: written as it is read
		start := i
		for i < len(b) && class[b[i]] == other && b[i] != ',' && b[i] != ':' {
			i++
		}
		return i, i - start, i > start
	}
	depth := 0
	for i < len(b) {
		switch class[b[i]] {
		case other: // a number, a literal, a comma or a colon
			start := i
			for i < len(b) && class[b[i]] == other {
				i++
			}
			size += i - start
		case space:
			i++
		case quote:
			n, e, ok := stringSize(b, i)
			if !ok {
				return e, size, false
			}
			size += n
			i = e
		case open:
			depth++
			size++
			i++
		case closing:
			depth--
			size++
			i++
			if depth == 0 {
				return i, size, true
			}
		}
	}
	return i, size, false
}

// Byte classes for Value.
const (
	other = iota
	space
	quote
	open
	closing
)

var class = func() (c [256]byte) {
	for _, b := range []byte(" \t\r\n") {
		c[b] = space
	}
	c['"'] = quote
	c['{'], c['['] = open, open
	c['}'], c[']'] = closing, closing
	return c
}()

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && class[b[i]] == space {
		i++
	}
	return i
}

// asIs holds the bytes a string holds as themselves and encoding/json
// writes back as they are: printable ASCII but " and \.
var asIs = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// stringSize measures the string that begins with the quote at b[i]: its
// size as encoding/json writes the decoded string with HTML escaping off,
// quotes included, and the index after its closing quote.
func stringSize(b []byte, i int) (size, end int, ok bool) {
	size = 2
	i++
	for i < len(b) {
		start := i
		for i < len(b) && asIs[b[i]] {
			i++
		}
		size += i - start
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return size, i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return size, len(b), false
			}
			switch b[i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				size += 2
				i += 2
			case '/':
				size++
				i += 2
			case 'u':
				r, n, ok := unicodeEscape(b[i:])
				if !ok {
					return size, i, false
				}
				size += runeSize(r)
				i += n
			default:
				return size, i, false
			}
		case c < 0x20:
			return size, i, false
		case c < utf8.RuneSelf:
			size++
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			size += runeSize(r) // invalid UTF-8 decodes as U+FFFD
			i += n
		}
	}
	return size, i, false
}

// unicodeEscape reads \uXXXX, or a surrogate pair of two, as the decoder
// does: a lone surrogate becomes U+FFFD.
func unicodeEscape(b []byte) (rune, int, bool) {
	r, ok := hex4(b)
	if !ok {
		return 0, 0, false
	}
	if 0xD800 <= r && r < 0xDC00 {
		if lo, ok := hex4(b[6:]); ok && 0xDC00 <= lo && lo < 0xE000 {
			return (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000, 12, true
		}
		return utf8.RuneError, 6, true
	}
	if 0xDC00 <= r && r < 0xE000 {
		return utf8.RuneError, 6, true
	}
	return r, 6, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// runeSize is how many bytes encoding/json writes for r in a string.
func runeSize(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20, r == '\u2028', r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}
