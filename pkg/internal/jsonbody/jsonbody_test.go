package jsonbody

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAcceptsPlainJSON(t *testing.T) {
	for _, in := range []string{`{}`, `[]`, `{"a":[1,2,{"b":null}],"c":"é\u00e9"}`, ` {"a":1} `, `"x"`, `1e400`} {
		if err := Check([]byte(in)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", in, err)
		}
	}
}

func TestCheckRejectsWhatEncodingJSONForgives(t *testing.T) {
	cases := map[string]string{
		"invalid UTF-8":          "{\"a\":\"\xff\"}",
		"a duplicate key":        `{"a":1,"a":2}`,
		"a nested duplicate key": `{"x":{"a":1,"b":2,"a":3}}`,
		"trailing data":          `{"a":1} {"b":2}`,
		"trailing garbage":       `{"a":1}x`,
		"a truncated body":       `{"a":`,
		"an empty body":          ``,
		"not JSON":               `type=door`,
		"a lone surrogate text":  "{\"a\":\"\xed\xa0\x80\"}",
		"deep nesting":           strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	}
	for name, in := range cases {
		var e *Error
		if err := Check([]byte(in)); !errors.As(err, &e) {
			t.Errorf("%s: Check = %v, want *Error", name, err)
		}
	}
}

func TestMarshalWritesCharactersAsTheyAre(t *testing.T) {
	got, err := Marshal(map[string]any{"html": "<a href='x'>&amp;</a>", "ctl": "\n\u2028"})
	if want := `{"ctl":"\n\u2028","html":"<a href='x'>&amp;</a>"}`; err != nil || string(got) != want {
		t.Fatalf("Marshal = %s, %v; want %s", got, err, want)
	}
}
