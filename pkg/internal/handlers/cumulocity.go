package handlers

import (
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// cumulocityOperations are the handlers of the cumulocity dialect's operations.
var cumulocityOperations = map[routes.Op]handler{}

// cumulocityError renders an error of the cumulocity dialect's routes in its clients'
// shape (nil: the native shape).
var cumulocityError func(e *apierror.Error, requestID string) apigw.Response
