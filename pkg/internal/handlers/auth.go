package handlers

import (
	"slices"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// authorize checks the route's scope and the devices of the token (or the
// API key: the key API's authorizer passes a key's claims on as a JWT
// authorizer passes a token's). API Gateway's authorizers check the scope
// too; the handlers do it again so that a misconfigured route or a direct
// test invoke cannot skip it.
func authorize(r *apigw.Request) *apierror.Error {
	if r.Route.API == routes.Registry {
		r.Claims = registryCaller(r)
		return nil
	}
	if r.Claims == nil {
		return &apierror.Error{Code: apierror.Unauthorized, Message: "no token claims in the request"}
	}
	if !slices.Contains(r.Claims.Scopes, r.Route.Scope) {
		return &apierror.Error{Code: apierror.Forbidden, Message: "the token lacks the scope " + r.Route.Scope}
	}
	if r.Claims.Devices == nil {
		return nil
	}
	if r.Route.Fleet {
		return errAcrossDevices
	}
	d, inPath := r.PathParams["deviceId"]
	if !inPath && r.Route.Dialect != "" {
		// The dialect names its device elsewhere (in an event's id, a body,
		// a query): its handler checks it with allowDevice.
		return nil
	}
	return allowDevice(r, d)
}

var errAcrossDevices = &apierror.Error{Code: apierror.Forbidden, Message: "a token limited to some devices may not act across devices"}

// allowDevice checks that the caller may touch device: a token or key
// limited to some devices only those ("" is across devices).
func allowDevice(r *apigw.Request, device string) *apierror.Error {
	if r.Claims.Devices == nil {
		return nil
	}
	if device == "" {
		return errAcrossDevices
	}
	if !slices.Contains(r.Claims.Devices, device) {
		return &apierror.Error{Code: apierror.Forbidden, Message: "the token may not touch this device"}
	}
	return nil
}

// caller names who made a change, for the event's history.
func caller(r *apigw.Request) string {
	if r.Claims != nil && r.Claims.Subject != "" {
		return r.Claims.Subject
	}
	return "unknown"
}

// registryCaller is who calls the registry's API: API Gateway let the
// request through (a private endpoint, or an IAM signature it checked),
// so the caller has the route's scope for every device.
func registryCaller(r *apigw.Request) *apigw.Claims {
	return &apigw.Claims{Subject: "registry", Scopes: []string{r.Route.Scope}}
}
