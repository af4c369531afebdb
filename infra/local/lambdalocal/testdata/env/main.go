// Command env answers its pid, working directory and environment, and
// prints a line to stdout and one to stderr.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type answer struct {
	PID int
	Dir string
	Env map[string]string
}

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (answer, error) {
		fmt.Fprintf(os.Stdout, "env: stdout of %d\n", os.Getpid())
		fmt.Fprintf(os.Stderr, "env: stderr of %d\n", os.Getpid())
		a := answer{PID: os.Getpid(), Env: map[string]string{}}
		a.Dir, _ = os.Getwd()
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			a.Env[k] = v
		}
		return a, nil
	})
}
