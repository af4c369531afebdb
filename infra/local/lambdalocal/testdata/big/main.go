// Command big answers a JSON string of exactly {"bytes": n} bytes.
package main

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in struct{ Bytes int }) (json.RawMessage, error) {
		s := bytes.Repeat([]byte("x"), in.Bytes)
		s[0], s[len(s)-1] = '"', '"'
		return s, nil
	})
}
