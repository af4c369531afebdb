package handlers

import (
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// losantOperations are the handlers of the losant dialect's operations.
var losantOperations = map[routes.Op]handler{}

// losantError renders an error of the losant dialect's routes in its clients'
// shape (nil: the native shape).
var losantError func(e *apierror.Error, requestID string) apigw.Response
