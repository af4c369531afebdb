// Command hold connects to the address in its payload ({"addr": ...}),
// waits until the test sends it a byte there, and answers its pid: the
// test knows how many invocations are in flight at once.
package main

import (
	"context"
	"net"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in struct{ Addr string }) (int, error) {
		c, err := net.Dial("tcp", in.Addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		if _, err := c.Read(make([]byte, 1)); err != nil {
			return 0, err
		}
		return os.Getpid(), nil
	})
}
