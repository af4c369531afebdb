package pagetoken

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

var (
	keyA = bytes.Repeat([]byte{1}, 32)
	keyB = bytes.Repeat([]byte{2}, 32)
)

func TestATokenDecodesOnlyForItsQuery(t *testing.T) {
	s, _ := NewSigner(keyA)
	tok := s.Encode("device=d1&type=a", "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T")
	if got, err := s.Decode("device=d1&type=a", tok); err != nil || got != "01JDB7Z6Q3N6V6ZJ8Y3W4K2M1T" {
		t.Fatalf("Decode = %q, %v; want the cursor back", got, err)
	}
	for _, q := range []string{"device=d2&type=a", "device=d1&type=b", ""} {
		if _, err := s.Decode(q, tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode with query %q: %v, want ErrInvalid", q, err)
		}
	}
}

func TestAnEditedTokenIsInvalid(t *testing.T) {
	s, _ := NewSigner(keyA)
	tok := s.Encode("q", "cursor-1")
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		edited := bytes.Clone(raw)
		edited[i] ^= 0x01
		if _, err := s.Decode("q", base64.RawURLEncoding.EncodeToString(edited)); !errors.Is(err, ErrInvalid) {
			t.Errorf("flipping a bit of byte %d: %v, want ErrInvalid", i, err)
		}
	}
	for _, bad := range []string{"", "!!!", "AAAA", tok + "A", tok[:len(tok)-2], string(make([]byte, MaxLen+1))} {
		if _, err := s.Decode("q", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestTokensOfThePreviousKeyStayValidAfterRotation(t *testing.T) {
	old, _ := NewSigner(keyA)
	tok := old.Encode("q", "c")
	rotated, _ := NewSigner(keyB, keyA)
	if got, err := rotated.Decode("q", tok); err != nil || got != "c" {
		t.Fatalf("after rotation: %q, %v; want c", got, err)
	}
	dropped, _ := NewSigner(keyB)
	if _, err := dropped.Decode("q", tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("once the old key is dropped: %v, want ErrInvalid", err)
	}
}

func TestATokenOfAKeyTheSignerLacksIsErrUnknownKey(t *testing.T) {
	newer, _ := NewSigner(keyB)
	tok := newer.Encode("q", "c")
	older, _ := NewSigner(keyA)
	if _, err := older.Decode("q", tok); !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("a token of another key: %v, want ErrUnknownKey (which is ErrInvalid)", err)
	}
	if _, err := newer.Decode("other query", tok); errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("a known key, another query: %v, want plain ErrInvalid", err)
	}
}
