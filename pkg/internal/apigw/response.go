package apigw

import (
	"github.com/aws/aws-lambda-go/events"
)

// Response is what a function answers an API request with, before it is
// written back in the form of the event it came in.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

func (r Response) httpAPI() events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: r.Headers, Body: string(r.Body)}
}

func (r Response) rest() events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: r.Status, Headers: r.Headers, Body: string(r.Body)}
}
