// Command sleep sleeps {"seconds": n}, ignoring its deadline, then answers
// its pid. With SLEEP_AT_INIT set it sleeps 30 s before it starts.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if os.Getenv("SLEEP_AT_INIT") != "" {
		time.Sleep(30 * time.Second)
	}
	lambda.Start(func(_ context.Context, in struct{ Seconds int }) (int, error) {
		time.Sleep(time.Duration(in.Seconds) * time.Second)
		return os.Getpid(), nil
	})
}
