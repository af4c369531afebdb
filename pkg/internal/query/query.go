// Package query reads query strings alike for the native routes
// (pkg/internal/handlers) and the dialects (pkg/internal/dialects): the
// parameters a route allows, single-valued parameters, and the error
// naming the one at fault (the contract's codes; a dialect renders them in
// its shape).
package query

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

// Allowed refuses a query with a parameter not in allowed: 400
// query_field_not_allowed naming the first of them in sorted order (so the
// answer does not depend on the map's order) and the allowed ones.
func Allowed(q url.Values, allowed []string) error {
	var unknown []string
	for k := range q {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return &apierror.Error{Code: apierror.QueryFieldNotAllowed, Parameter: unknown[0],
		Message: unknown[0] + ": query parameter not allowed here (allowed: " + strings.Join(allowed, ", ") + ")"}
}

// One returns a single-valued parameter and whether it was given: given
// twice, or empty, it is invalid.
func One(q url.Values, name string) (string, bool, error) {
	v, ok := q[name]
	switch {
	case !ok:
		return "", false, nil
	case len(v) > 1:
		return "", false, Invalid(name, "given more than once")
	case v[0] == "":
		return "", false, Invalid(name, "empty")
	}
	return v[0], true, nil
}

// Invalid is 400 invalid_parameter naming the parameter.
func Invalid(name, format string, args ...any) *apierror.Error {
	return &apierror.Error{Code: apierror.InvalidParameter, Parameter: name, Message: name + ": " + fmt.Sprintf(format, args...)}
}
