package lambdalocal_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/fleetlog/device-events/infra/local/lambdalocal"
)

// sdkClient is the AWS SDK's Lambda client for the service's Invoke API,
// without retries: a throttle must reach the test as it reaches a caller.
func sdkClient(t *testing.T, s *lambdalocal.Service) *lambda.Client {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func TestInvokeAPIAnswersTheSDK(t *testing.T) {
	s := newService(t, lambdalocal.Options{}, testFunction(t, "echo", "echo"), testFunction(t, "fail", "fail"))
	client := sdkClient(t, s)
	tests := []struct {
		name          string
		in            lambda.InvokeInput
		status        int32
		functionError string
		payload       string
	}{
		{name: "a function named is invoked",
			in:     lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"a":1}`)},
			status: 200, payload: `{"a":1}`},
		{name: "a function by its ARN is invoked",
			in:     lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:echo"), Payload: []byte(`"arn"`)},
			status: 200, payload: `"arn"`},
		{name: "a function by its partial ARN and $LATEST is invoked",
			in:     lambda.InvokeInput{FunctionName: aws.String("000000000000:function:echo"), Qualifier: aws.String("$LATEST"), Payload: []byte(`[]`)},
			status: 200, payload: `[]`},
		{name: "a function error comes with X-Amz-Function-Error",
			in:     lambda.InvokeInput{FunctionName: aws.String("fail"), Payload: []byte(`{}`)},
			status: 200, functionError: "Unhandled", payload: `{"errorMessage":"the thing is invalid","errorType":"invalid_thing"}`},
		{name: "a dry run is answered 204 with no payload",
			in:     lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeDryRun, Payload: []byte(`{}`)},
			status: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := client.Invoke(context.Background(), &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if out.StatusCode != tt.status {
				t.Errorf("got status %d, want %d", out.StatusCode, tt.status)
			}
			if got := aws.ToString(out.FunctionError); got != tt.functionError {
				t.Errorf("got FunctionError %q, want %q", got, tt.functionError)
			}
			if !bytes.Equal(bytes.TrimSpace(out.Payload), []byte(tt.payload)) {
				t.Errorf("got payload %s, want %s", out.Payload, tt.payload)
			}
			if tt.status == 200 && aws.ToString(out.ExecutedVersion) != "$LATEST" {
				t.Errorf("got ExecutedVersion %q, want $LATEST", aws.ToString(out.ExecutedVersion))
			}
		})
	}
}

func TestInvokeAPIRefusalsAreTheSDKsErrors(t *testing.T) {
	hold := testFunction(t, "hold", "hold")
	hold.MaxConcurrency = 1
	s := newService(t, lambdalocal.Options{}, testFunction(t, "echo", "echo"), hold)
	client := sdkClient(t, s)
	h := newHolder(t)
	busy := goInvoke(s, "hold", h.payload())
	c := h.arrived(t)
	defer func() {
		release(t, c)
		<-busy
	}()

	tests := []struct {
		name   string
		in     lambda.InvokeInput
		status int
		code   string
		// as is what the SDK makes of it: a modelled exception, or nil for
		// an APIError with the code.
		as func(error) bool
	}{
		{name: "a function the service does not have is ResourceNotFoundException",
			in:     lambda.InvokeInput{FunctionName: aws.String("nope")},
			status: 404, code: "ResourceNotFoundException",
			as: func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{name: "a qualifier other than $LATEST is ResourceNotFoundException",
			in:     lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("7")},
			status: 404, code: "ResourceNotFoundException",
			as: func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{name: "an ARN of another account is ResourceNotFoundException",
			in:     lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:123456789012:function:echo")},
			status: 404, code: "ResourceNotFoundException",
			as: func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{name: "a payload over 6 MB is RequestEntityTooLargeException",
			in:     lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: jsonString(lambdalocal.MaxRequestPayload + 1)},
			status: 413, code: "RequestEntityTooLargeException"},
		{name: "an invoke over the function's concurrency is TooManyRequestsException",
			in:     lambda.InvokeInput{FunctionName: aws.String("hold"), Payload: h.payload()},
			status: 429, code: "TooManyRequestsException",
			as: func(err error) bool {
				var e *types.TooManyRequestsException
				return errors.As(err, &e) && e.Reason == types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.Invoke(context.Background(), &tt.in)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("got %v, want an APIError %s", err, tt.code)
			}
			var respErr *awshttp.ResponseError
			if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != tt.status {
				t.Errorf("got %v, want HTTP status %d", err, tt.status)
			}
			if tt.as != nil && !tt.as(err) {
				t.Errorf("got %T, want the SDK's modelled exception", apiErr)
			}
		})
	}
}
