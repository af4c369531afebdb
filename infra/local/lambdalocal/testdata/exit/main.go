// Command exit exits with status 3 when invoked. EXIT_AT_INIT makes it
// exit before it starts; INIT_ERROR makes it report an init error to the
// Runtime API and then wait to be killed.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if os.Getenv("EXIT_AT_INIT") != "" {
		os.Exit(3)
	}
	if os.Getenv("INIT_ERROR") != "" {
		req, _ := http.NewRequest("POST", "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error",
			strings.NewReader(`{"errorType":"Runtime.BadConfig","errorMessage":"no configuration"}`))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.BadConfig")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		select {}
	}
	lambda.Start(func(context.Context, json.RawMessage) (string, error) {
		os.Exit(3)
		return "", nil
	})
}
