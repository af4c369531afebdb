package eventstore

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTypeTakesPrintableNFCWithoutCommas(t *testing.T) {
	cases := []struct {
		name, typ string
		ok        bool
	}{
		{"a plain name", "get-greengrass-configurations", true},
		{"inner spaces and accents in NFC", "porte ouverte é", true},
		{"CJK and emoji", "門が開いた🚪", true},
		{"128 characters", strings.Repeat("é", MaxTypeLength), true},
		{"empty", "", false},
		{"129 characters", strings.Repeat("a", MaxTypeLength+1), false},
		{"a comma", "door,window", false},
		{"a tab", "door\topen", false},
		{"a NUL", "door\x00", false},
		{"DEL", "door\x7f", false},
		{"a C1 control", "door\u0085", false},
		{"a zero-width space", "door\u200bopen", false},
		{"a zero-width joiner", "door\u200d", false},
		{"a byte-order mark", "\ufeffdoor", false},
		{"a right-to-left override", "door\u202enepo", false},
		{"a soft hyphen", "do\u00ador", false},
		{"a line separator", "door\u2028open", false},
		{"a no-break space", "door\u00a0open", false},
		{"a private-use character", "door\ue000", false},
		{"an unassigned code point", "door\U000e0fff", false},
		{"e and a combining accent (NFD)", "porte ouverte e\u0301", false},
		{"the angstrom sign (NFC is U+00C5)", "\u212b", false},
		{"a leading space", " door", false},
		{"a trailing space", "door ", false},
		{"invalid UTF-8", "door\xff", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckType("type", tc.typ)
			var fe *FieldError
			switch {
			case tc.ok && err != nil:
				t.Fatalf("CheckType(%q) = %v, want nil", tc.typ, err)
			case !tc.ok && !errors.As(err, &fe):
				t.Fatalf("CheckType(%q) = %v, want a FieldError", tc.typ, err)
			case !tc.ok && fe.Field != "type":
				t.Fatalf("field %q, want type", fe.Field)
			}
		})
	}
}
