package pagetoken

import (
	"errors"
	"testing"
)

// FuzzDecode edits tokens the signer issued. Decode must never panic; it
// accepts a token for its own query, as written, and nothing else: not
// another query, and no other string, however close.
//
// edits are (position, xor) byte pairs applied to the token; a position
// past its end appends the byte instead.
func FuzzDecode(f *testing.F) {
	current, _ := NewSigner(keyB, keyA)
	previous, _ := NewSigner(keyA)
	f.Fuzz(func(t *testing.T, query, cursor string, rotated bool, edits []byte) {
		issuer := current
		if rotated {
			issuer = previous // issued before the rotation to keyB
		}
		tok := issuer.Encode(query, cursor)
		if len(tok) <= MaxLen {
			if got, err := current.Decode(query, tok); err != nil || got != cursor {
				t.Fatalf("Decode(Encode(%q, %q)) = %q, %v; want the cursor back", query, cursor, got, err)
			}
		}
		if _, err := current.Decode(query+"\x00", tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a token for %q decoded for another query: %v, want ErrInvalid", query, err)
		}
		edited := []byte(tok)
		for i := 0; i+1 < len(edits); i += 2 {
			if pos := int(edits[i]); pos < len(edited) {
				edited[pos] ^= edits[i+1]
			} else {
				edited = append(edited, edits[i+1])
			}
		}
		got, err := current.Decode(query, string(edited))
		switch {
		case string(edited) == tok:
		case err == nil:
			t.Fatalf("the edited token %q (issued %q) decoded to %q, want ErrInvalid", edited, tok, got)
		case !errors.Is(err, ErrInvalid):
			t.Fatalf("the edited token %q: %v, want ErrInvalid", edited, err)
		}
	})
}
