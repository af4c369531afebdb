// Command authorize-key is the Lambda authorizer of the key API: API
// Gateway calls it before each of the key API's requests, with the
// request's headers, and serves the request only if it allows it.
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
	authorize, err := function.NewKeyAuthorizer(context.Background(), secretkeys.Pepper)
	if err != nil {
		fmt.Fprintln(os.Stderr, "authorize-key:", err)
		os.Exit(1)
	}
	lambda.Start(authorize)
}
