package jsonbody

import "bytes"

// plain reports whether b, known to be valid JSON, passes checkValue: no
// object has a key twice and no container is nested MaxDepth deep. It
// decides without allocating, which Check's token-by-token walk cannot
// (about fifty allocations for a four-field event), but only for the
// common case: a key with an escape in it, or more than maxPlainKeys keys
// open at once, make it answer false, and Check then walks the body
// itself, so its answer and its error are always the walk's.
func plain(b []byte) bool {
	var (
		keys  [maxPlainKeys][]byte // the keys of the open objects, outermost first
		nkeys int
		// first[d] is where the keys of the container at depth d begin in
		// keys, or -1 for an array.
		first     [MaxDepth]int
		depth     int
		expectKey bool
	)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			if depth >= MaxDepth {
				return false
			}
			first[depth] = -1
			if c == '{' {
				first[depth] = nkeys
			}
			depth++
			expectKey = c == '{'
		case '}', ']':
			depth--
			if first[depth] >= 0 {
				nkeys = first[depth]
			}
			expectKey = false
		case ',':
			expectKey = depth > 0 && first[depth-1] >= 0
		case '"':
			start := i + 1
			escaped := false
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					escaped = true
					i++
				}
			}
			if !expectKey {
				continue
			}
			expectKey = false
			if escaped || nkeys == maxPlainKeys {
				return false
			}
			key := b[start:i]
			for _, k := range keys[first[depth-1]:nkeys] {
				if bytes.Equal(k, key) {
					return false
				}
			}
			keys[nkeys] = key
			nkeys++
		}
	}
	return true
}

// maxPlainKeys bounds the keys plain keeps: a larger body is walked.
const maxPlainKeys = 64
