package eventstore

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Errors the store returns; callers test them with errors.Is.
var (
	// ErrNotFound: no such event.
	ErrNotFound = errors.New("event not found")
	// ErrVersionMismatch: a conditional write named a version the event no
	// longer has.
	ErrVersionMismatch = errors.New("event version does not match")
	// ErrIdempotencyConflict: an idempotency key came back with another body.
	ErrIdempotencyConflict = errors.New("idempotency key was used with a different body")
	// ErrKeyedEventsDeleted: a retry under an idempotency key whose events
	// have since been deleted or have expired. Storing them again would
	// bring back what was deleted and count it twice, so the retry stores
	// nothing (a conflict for the caller).
	ErrKeyedEventsDeleted = errors.New("the events stored under this idempotency key have since been deleted")
	// ErrConflict: concurrent writers kept colliding; the caller may retry.
	ErrConflict = errors.New("concurrent update, retry")
	// ErrThrottled: DynamoDB is throttling; the caller should back off.
	ErrThrottled = errors.New("storage is throttling requests")
	// ErrUnavailable: DynamoDB could not be reached or failed.
	ErrUnavailable = errors.New("storage is unavailable")
)

// PartialWriteError is a put that failed after some of its events were
// stored: a batch that took several transactions, or a retry that found
// some stored before. StoredIDs lists those events, in request order; a
// retry with the same idempotency key stores the rest. Err says why the
// put stopped (errors.Is and errors.As see it).
type PartialWriteError struct {
	StoredIDs []string
	Err       error
}

func (e *PartialWriteError) Error() string {
	return fmt.Sprintf("%v (after %d of the events were stored)", e.Err, len(e.StoredIDs))
}

func (e *PartialWriteError) Unwrap() error { return e.Err }

// storeError keeps the SDK's error for the logs while matching one of the
// sentinels above.
type storeError struct {
	kind  error
	cause error
}

func (e *storeError) Error() string        { return e.kind.Error() + ": " + e.cause.Error() }
func (e *storeError) Is(target error) bool { return target == e.kind }
func (e *storeError) Unwrap() error        { return e.cause }

// classify maps an SDK error onto the store's sentinels where one applies:
// throttling and unavailability are the caller's to report as 429 and 503.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if c, ok := reasonsOf(err); ok {
		// A transaction is cancelled as a whole; the reasons say which of
		// its items stopped it. Conditions that failed are the caller's to
		// read before classifying; what is left is capacity or a collision.
		switch {
		case c.throttled():
			return &storeError{ErrThrottled, err}
		case c.conflict():
			return &storeError{ErrConflict, err}
		}
		return err
	}
	// A single-item write to an item a transaction is writing.
	var tconf *types.TransactionConflictException
	if errors.As(err, &tconf) {
		return &storeError{ErrConflict, err}
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		return &storeError{ErrThrottled, err}
	}
	var pte *types.ProvisionedThroughputExceededException
	var rle *types.RequestLimitExceeded
	if errors.As(err, &pte) || errors.As(err, &rle) {
		return &storeError{ErrThrottled, err}
	}
	var ise *types.InternalServerError
	if errors.As(err, &ise) {
		return &storeError{ErrUnavailable, err}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ThrottlingException", "Throttling", "TooManyRequestsException":
			return &storeError{ErrThrottled, err}
		case "ServiceUnavailable", "InternalFailure", "InternalServerError":
			return &storeError{ErrUnavailable, err}
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			return &storeError{ErrUnavailable, err}
		}
		return err
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &storeError{ErrUnavailable, err}
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		// Transport failures (connection refused or reset, a body cut short)
		// arrive as operation errors without an API error inside.
		return &storeError{ErrUnavailable, err}
	}
	return err
}

// The codes of a cancelled transaction's reasons (one per item, in the
// order of the items; "None" for an item that was not at fault).
const (
	reasonConditionFailed = "ConditionalCheckFailed"
	reasonConflict        = "TransactionConflict"
)

// reasonsThrottled are the reasons of an item that capacity stopped.
var reasonsThrottled = []string{"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}

// cancellation is why DynamoDB cancelled a transaction: the reason of each
// of its items.
type cancellation []types.CancellationReason

// reasonsOf returns the reasons of err when it is a cancelled transaction.
func reasonsOf(err error) (cancellation, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	return tce.CancellationReasons, true
}

// conditionalCheckFailed reports whether a single-item write failed its
// condition (what callers that condition a write to skip it read as "no
// need").
func conditionalCheckFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// conditionFailed reports whether item i failed its condition; the item
// as it was is then c[i].Item (ReturnValuesOnConditionCheckFailure).
func (c cancellation) conditionFailed(i int) bool {
	return i < len(c) && aws.ToString(c[i].Code) == reasonConditionFailed
}

// anyConditionFailed reports whether some item failed its condition.
func (c cancellation) anyConditionFailed() bool {
	for i := range c {
		if c.conditionFailed(i) {
			return true
		}
	}
	return false
}

// conflict reports whether an item collided with another transaction.
func (c cancellation) conflict() bool { return c.has(reasonConflict) }

// throttled reports whether capacity stopped an item.
func (c cancellation) throttled() bool { return c.has(reasonsThrottled...) }

func (c cancellation) has(codes ...string) bool {
	for _, r := range c {
		code := aws.ToString(r.Code)
		for _, want := range codes {
			if code == want {
				return true
			}
		}
	}
	return false
}
