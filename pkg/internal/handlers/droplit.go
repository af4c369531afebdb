package handlers

import (
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/routes"
)

// droplitOperations are the handlers of the droplit dialect's operations.
var droplitOperations = map[routes.Op]handler{}

// droplitError renders an error of the droplit dialect's routes in its clients'
// shape (nil: the native shape).
var droplitError func(e *apierror.Error, requestID string) apigw.Response
