// Command hello is the smallest aws-lambda-go function: the baseline of the
// cold-start benchmark (see coldstart_test.go).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
