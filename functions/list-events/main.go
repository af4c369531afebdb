// Command list-events is the list-events Lambda function of the device events API.
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
	handler, err := function.ListEvents(context.Background(), &function.Options{PageTokens: secretkeys.PageTokens})
	if err != nil {
		fmt.Fprintln(os.Stderr, "list-events:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
