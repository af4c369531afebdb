// Command aggregate-events is the aggregate-events Lambda function of the device events API.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fleetlog/device-events/pkg/function"
	"github.com/fleetlog/device-events/pkg/zoneinfo"
)

func main() {
	handler, err := function.AggregateEvents(context.Background(), &function.Options{Zones: zoneinfo.Load})
	if err != nil {
		fmt.Fprintln(os.Stderr, "aggregate-events:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
