// Command alloc holds {"mb": n} MiB of touched memory while it answers its
// pid.
package main

import (
	"context"
	"os"
	"runtime"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in struct{ MB int }) (int, error) {
		chunks := make([][]byte, in.MB)
		for i := range chunks {
			chunks[i] = make([]byte, 1<<20)
			for j := 0; j < len(chunks[i]); j += 4096 { // every page resident
				chunks[i][j] = 1
			}
		}
		runtime.KeepAlive(chunks)
		return os.Getpid(), nil
	})
}
