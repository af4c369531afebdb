package handlers

import (
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// lhingsOperations are the handlers of the lhings dialect's operations.
var lhingsOperations = map[routes.Op]handler{}

// lhingsError renders an error of the lhings dialect's routes in its clients'
// shape (nil: the native shape).
var lhingsError func(e *apierror.Error, requestID string) apigw.Response
