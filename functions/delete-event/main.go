// Command delete-event is the delete-event Lambda function of the device events API.
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
	handler, err := function.DeleteEvent(context.Background(), &function.Options{PageTokens: secretkeys.PageTokens})
	if err != nil {
		fmt.Fprintln(os.Stderr, "delete-event:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
