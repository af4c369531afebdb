// Command fail answers a function error and logs a line.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) {
		fmt.Println("fail: about to fail")
		return "", messages.InvokeResponse_Error{Type: "invalid_thing", Message: "the thing is invalid"}
	})
}
