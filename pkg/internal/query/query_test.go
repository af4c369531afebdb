package query

import (
	"errors"
	"net/url"
	"testing"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

func TestQueriesAreReadAlikeByEveryDialect(t *testing.T) {
	code := func(err error) (string, string) {
		var e *apierror.Error
		if !errors.As(err, &e) {
			return "", ""
		}
		return e.Code, e.Parameter
	}
	t.Run("a query of allowed parameters passes", func(t *testing.T) {
		if err := Allowed(url.Values{"a": {"1"}, "b": {"2"}}, []string{"a", "b", "c"}); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
	})
	t.Run("the first unknown parameter in sorted order is named, whatever the map's order", func(t *testing.T) {
		for range 20 {
			c, p := code(Allowed(url.Values{"zz": {"1"}, "mm": {"2"}, "a": {"3"}}, []string{"a"}))
			if c != apierror.QueryFieldNotAllowed || p != "mm" {
				t.Fatalf("got %s naming %q, want %s naming mm", c, p, apierror.QueryFieldNotAllowed)
			}
		}
	})
	for _, tc := range []struct {
		name   string
		q      url.Values
		value  string
		given  bool
		failed bool
	}{
		{"a parameter given once is read", url.Values{"p": {"x"}}, "x", true, false},
		{"a parameter not given is not", url.Values{}, "", false, false},
		{"a parameter given twice is invalid", url.Values{"p": {"x", "y"}}, "", false, true},
		{"an empty parameter is invalid", url.Values{"p": {""}}, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok, err := One(tc.q, "p")
			if c, p := code(err); tc.failed != (c == apierror.InvalidParameter && p == "p") || v != tc.value || ok != tc.given {
				t.Errorf("got %q, %v, %v; want %q, %v, failed %v", v, ok, err, tc.value, tc.given, tc.failed)
			}
		})
	}
}
