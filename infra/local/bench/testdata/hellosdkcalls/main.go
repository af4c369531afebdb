// Command hellosdkcalls is hellosdk making the calls a function's first
// request makes: HELLOSDK_CALLS lists them as the benchmark's stub AWS
// recorded them (each call's X-Amz-Target and request body), and each
// invoke makes them again, in order, through the SDK's DynamoDB client,
// with the recorded bodies, so that the stub answers each as it answered
// the function and the SDK decodes the same answers. Secrets Manager's
// GetSecretValue is a SigV4-signed POST, as the functions make it
// (pkg/secretkeys). It is the floor of a function with the SDK: its own
// packages, and its handler's work between and around the calls, are
// what it lacks (see coldstart_test.go).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// call is a recorded call.
type call struct {
	Target string `json:"target"`
	Body   []byte `json:"body"`
}

func main() {
	var calls []call
	if err := json.Unmarshal([]byte(os.Getenv("HELLOSDK_CALLS")), &calls); err != nil {
		fmt.Fprintln(os.Stderr, "HELLOSDK_CALLS:", err)
		os.Exit(1)
	}
	client := awshttp.NewBuildableClient()
	creds := credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	region := os.Getenv("AWS_REGION")
	db := dynamodb.NewFromConfig(aws.Config{Region: region, Credentials: creds, HTTPClient: client}, func(o *dynamodb.Options) {
		if e := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	sm := secretsManager{endpoint: os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER"), region: region, creds: creds, client: client, signer: v4.NewSigner()}
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (string, error) {
		for _, c := range calls {
			if err := replay(ctx, db, sm, c); err != nil {
				return "", fmt.Errorf("%s: %w", c.Target, err)
			}
		}
		return "hello", nil
	})
}

// replay makes call c with its recorded body.
func replay(ctx context.Context, db *dynamodb.Client, sm secretsManager, c call) error {
	table := aws.String("events")
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "p"}, "sk": &types.AttributeValueMemberS{Value: "s"}}
	body := func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, withBody(c.Body)) }
	var err error
	switch op, _ := strings.CutPrefix(c.Target, "DynamoDB_20120810."); op {
	case "GetItem":
		_, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key}, body)
	case "Query":
		_, err = db.Query(ctx, &dynamodb.QueryInput{TableName: table}, body)
	case "PutItem":
		_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: key}, body)
	case "UpdateItem":
		_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key}, body)
	case "BatchWriteItem":
		_, err = db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			"events": {{PutRequest: &types.PutRequest{Item: key}}}}}, body)
	case "TransactWriteItems":
		_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: table, Item: key}}}}, body)
	case "secretsmanager.GetSecretValue":
		err = sm.call(ctx, c.Body)
	default:
		err = fmt.Errorf("no replay of %s", c.Target)
	}
	return err
}

// withBody sends body in place of the serialised input, before the
// request is signed.
func withBody(body []byte) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Build.Add(middleware.BuildMiddlewareFunc("ReplayBody", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			req, ok := in.Request.(*smithyhttp.Request)
			if !ok {
				return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected request %T", in.Request)
			}
			r, err := req.SetStream(bytes.NewReader(body))
			if err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, err
			}
			r.ContentLength = int64(len(body))
			in.Request = r
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	}
}

// secretsManager makes GetSecretValue calls as pkg/secretkeys does.
type secretsManager struct {
	endpoint, region string
	creds            aws.CredentialsProvider
	client           aws.HTTPClient
	signer           *v4.Signer
}

func (c secretsManager) call(ctx context.Context, body []byte) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "secretsmanager", c.region, time.Now()); err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d %s %v", resp.StatusCode, answer, err)
	}
	var out struct{ SecretString string }
	return json.Unmarshal(answer, &out)
}
