// Command api-keys is the api-keys Lambda function of the device events
// API: it makes, lists and revokes device API keys.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fleetlog/device-events/pkg/function"
	"github.com/fleetlog/device-events/pkg/secretkeys"
)

func main() {
	handler, err := function.APIKeys(context.Background(), &function.Options{PageTokens: secretkeys.PageTokens, KeyPepper: secretkeys.Pepper})
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-keys:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
