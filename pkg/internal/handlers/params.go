package handlers

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/query"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
	"github.com/fleetlog/device-events/pkg/routes"
)

// params reads a request's query parameters against the set a route allows.
type params struct {
	r *apigw.Request
}

// allowOnly rejects any query parameter outside the allowed set, naming it.
func (p params) allowOnly(allowed ...string) error { return query.Allowed(p.r.Query, allowed) }

// one returns a single-valued parameter; given twice is an error.
func (p params) one(name string) (string, bool, error) { return query.One(p.r.Query, name) }

// list returns a comma-separated (or repeated) parameter, at most max items.
func (p params) list(name string, max int) ([]string, error) {
	var out []string
	for _, v := range p.r.Query[name] {
		for _, s := range strings.Split(v, ",") {
			if s == "" {
				return nil, query.Invalid(name, "has an empty item")
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if len(out) > max {
		return nil, query.Invalid(name, "at most %d values", max)
	}
	return out, nil
}

func (p params) time(name string) (time.Time, error) {
	v, ok, err := p.one(name)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, perr := timestamp.Parse(v)
	if perr != nil {
		return time.Time{}, query.Invalid(name, "%v", perr)
	}
	return t, nil
}

// timeRange reads from and to; from must come before to.
func (p params) timeRange() (from, to time.Time, err error) {
	if from, err = p.time("from"); err != nil {
		return
	}
	if to, err = p.time("to"); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = query.Invalid("from", "must be before to")
	}
	return
}

func (p params) intIn(name string, lo, hi, def int) (int, error) {
	v, ok, err := p.one(name)
	if err != nil || !ok {
		return def, err
	}
	n, cerr := strconv.Atoi(v)
	if cerr != nil || n < lo || n > hi {
		return 0, query.Invalid(name, "must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func (p params) choice(name string, def string, choices ...string) (string, error) {
	v, ok, err := p.one(name)
	if err != nil || !ok {
		return def, err
	}
	if !slices.Contains(choices, v) {
		return "", query.Invalid(name, "must be one of %s", strings.Join(choices, ", "))
	}
	return v, nil
}

func (p params) unixTimes() (bool, error) {
	f, err := p.choice("timeFormat", "iso", "iso", "unix")
	return f == "unix", err
}

func (p params) bool(name string) (bool, error) {
	v, err := p.choice(name, "false", "true", "false")
	return v == "true", err
}

func (p params) types(max int) ([]string, error) {
	ts, err := p.list("type", max)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if eventstore.CheckType("type", t) != nil {
			return nil, query.Invalid("type", "%q is not an event type", t)
		}
	}
	return ts, nil
}

// deviceID reads and checks the device of the path.
func deviceID(r *apigw.Request) (string, error) {
	name := "deviceId"
	if _, ok := r.PathParams[name]; !ok && r.Route.API == routes.Registry {
		name = "deviceid" // the registry's paths
	}
	d := r.PathParams[name]
	if err := eventstore.CheckDeviceID(name, d); err != nil {
		return "", query.Invalid(name, "must be 1-128 characters of A-Z a-z 0-9 . _ : - (and not only dots)")
	}
	return d, nil
}

// ifMatch reads If-Match: a version in quotes ("3", W/"3" or 3), or *.
// Zero means no condition.
func ifMatch(r *apigw.Request) (int64, error) {
	v := strings.TrimSpace(r.Header("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	v = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, query.Invalid("If-Match", `must be an ETag such as "3"`)
	}
	return n, nil
}
