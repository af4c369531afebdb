// Command patch-event is the patch-event Lambda function of the device events API.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fleetlog/device-events/pkg/function"
	"github.com/fleetlog/device-events/pkg/routes"
)

func main() {
	handler, err := function.New(context.Background(), routes.PatchEvent, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "patch-event:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
