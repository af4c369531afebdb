package eventsclient

import (
	"net/http"
	"slices"
	"testing"

	"github.com/fleetlog/device-events/pkg/internal/apierror"
)

// TestTheClientNamesEveryCodeOfTheService: the Code constants are the
// service's own (pkg/internal/apierror), and none is missing.
func TestTheClientNamesEveryCodeOfTheService(t *testing.T) {
	client := []string{
		CodeInvalidJSON, CodeInvalidEvent, CodeInvalidParameter, CodeQueryFieldNotAllowed, CodeInvalidPageToken,
		CodeImmutableField, CodeUnauthorized, CodeForbidden, CodeNotFound, CodeMethodNotAllowed, CodeConflict,
		CodePreconditionFailed, CodePayloadTooLarge, CodeUnsupportedMediaType, CodeThrottled, CodeUnavailable,
		CodeInternal, CodeUnsupportedPayload,
	}
	service := apierror.Codes()
	slices.Sort(client)
	slices.Sort(service)
	if !slices.Equal(client, service) {
		t.Fatalf("the client's codes are %v, want the service's %v", client, service)
	}
}

// TestAStatusWithoutTheAPIsBodyGetsTheServicesCodeForIt: an answer of API
// Gateway's own (no error code in it) is named with the code the service
// answers that status with; 502 and 504, which only API Gateway answers,
// are named as the failures they report.
func TestAStatusWithoutTheAPIsBodyGetsTheServicesCodeForIt(t *testing.T) {
	for status, code := range codeOfStatus {
		want := status
		switch status {
		case http.StatusBadGateway:
			want = http.StatusInternalServerError
		case http.StatusGatewayTimeout:
			want = http.StatusServiceUnavailable
		}
		if got := apierror.Status(code); got != want {
			t.Errorf("%d is named %s, which the service answers with %d; want %d", status, code, got, want)
		}
	}
}
