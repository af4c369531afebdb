package awslocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/fleetlog/device-events/pkg/dynamodblocal/ddbtest"
	"github.com/fleetlog/device-events/pkg/eventstore"
)

func allow(resource string, actions ...string) Statement {
	return Statement{Actions: actions, Resources: []string{resource}}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "arn:aws:dynamodb:us-east-1:000000000000:table/t", true},
		{"arn:aws:dynamodb:*:*:table/t", "arn:aws:dynamodb:us-east-1:000000000000:table/t", true},
		{"arn:aws:dynamodb:*:*:table/t", "arn:aws:dynamodb:us-east-1:000000000000:table/t/index/byType", false},
		{"arn:aws:dynamodb:*:*:table/t*", "arn:aws:dynamodb:us-east-1:000000000000:table/t/index/byType", true},
		{"arn:aws:dynamodb:*:*:table/t/index/*", "arn:aws:dynamodb:us-east-1:000000000000:table/t/index/byType", true},
		{"arn:aws:dynamodb:*:*:table/t/index/*", "arn:aws:dynamodb:us-east-1:000000000000:table/t", false},
		{"table/?", "table/t", true},
		{"table/?", "table/tt", false},
		{"a*b*c", "abbbc", true},
		{"a*b*c", "acb", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestActionsMatchWithoutCaseAndResourcesWithCase(t *testing.T) {
	p := principal("reader", allow("arn:aws:dynamodb:us-east-1:000000000000:table/Events", "DynamoDB:getitem"))
	if !p.allows("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:000000000000:table/Events") {
		t.Errorf("DynamoDB:getitem does not allow dynamodb:GetItem, want it to (IAM actions ignore case)")
	}
	if p.allows("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:000000000000:table/events") {
		t.Errorf("a grant on table/Events allows table/events, want not (ARNs are case-sensitive)")
	}
}

// TestDeniedCallsAreNotForwarded makes each call a role lacks a permission
// for, with the real SDK client, and checks the answer, the record of the
// denial and that nothing reached the table.
func TestDeniedCallsAreNotForwarded(t *testing.T) {
	ctx := context.Background()
	table := ddbtest.Table(t, ddbtest.Client(t), tableDef)
	tableARN := TableARN(DefaultRegion, DefaultAccountID, table)
	indexARN := IndexARN(DefaultRegion, DefaultAccountID, table, eventstore.TypeIndex)
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": str(pk), "sk": str("1")}
	}
	put := func(pk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: key(pk)}}
	}

	cases := []struct {
		name  string
		allow []Statement
		// pk is the partition the call would write to.
		pk                       string
		call                     func(c *dynamodb.Client, pk string) error
		wantAction, wantResource string
	}{
		{
			name:  "a PutItem is denied to a role granted GetItem and UpdateItem only",
			allow: []Statement{allow(tableARN, "dynamodb:GetItem", "dynamodb:UpdateItem")},
			pk:    "put",
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key(pk)})
				return err
			},
			wantAction: "dynamodb:PutItem", wantResource: tableARN,
		},
		{
			name:  "a Query of the type index is denied to a role granted Query on the table only",
			allow: []Statement{allow(tableARN, "dynamodb:Query")},
			call: func(c *dynamodb.Client, _ string) error {
				_, err := c.Query(ctx, &dynamodb.QueryInput{
					TableName: &table, IndexName: aws.String(eventstore.TypeIndex),
					KeyConditionExpression:    aws.String("gpk = :g"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":g": str("door#0")},
				})
				return err
			},
			wantAction: "dynamodb:Query", wantResource: indexARN,
		},
		{
			name:  "a transaction is denied as a whole when one item's action is missing",
			allow: []Statement{allow(tableARN, "dynamodb:PutItem")},
			pk:    "tx",
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					put(pk),
					{Update: &types.Update{TableName: &table, Key: key(pk + "-counter"), UpdateExpression: aws.String("ADD n :one"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}}},
				}})
				return err
			},
			wantAction: "dynamodb:UpdateItem", wantResource: tableARN,
		},
		{
			name:  "a transaction's ConditionCheck needs dynamodb:ConditionCheckItem",
			allow: []Statement{allow(tableARN, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem")},
			pk:    "check",
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					put(pk),
					{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: key(pk + "-other"), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
				}})
				return err
			},
			wantAction: "dynamodb:ConditionCheckItem", wantResource: tableARN,
		},
		{
			name:  "a TransactGetItems needs dynamodb:GetItem",
			allow: []Statement{allow(tableARN, "dynamodb:Query")},
			call: func(c *dynamodb.Client, _ string) error {
				_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: &table, Key: key("any")}}}})
				return err
			},
			wantAction: "dynamodb:GetItem", wantResource: tableARN,
		},
		{
			name:  "a BatchWriteItem needs dynamodb:BatchWriteItem, not PutItem",
			allow: []Statement{allow(tableARN, "dynamodb:PutItem")},
			pk:    "batch",
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
					table: {{PutRequest: &types.PutRequest{Item: key(pk)}}},
				}})
				return err
			},
			wantAction: "dynamodb:BatchWriteItem", wantResource: tableARN,
		},
		{
			name:  "a grant on another table does not cover this one",
			allow: []Statement{allow(TableARN(DefaultRegion, DefaultAccountID, "other"), "dynamodb:PutItem")},
			pk:    "other",
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key(pk)})
				return err
			},
			wantAction: "dynamodb:PutItem", wantResource: tableARN,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := principal("tester", c.allow...)
			srv := serve(t, Options{}, p)
			err := c.call(client(t, srv.URL, p), c.pk)

			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
				t.Fatalf("got error %v, want AccessDeniedException", err)
			}
			role := "arn:aws:sts::000000000000:assumed-role/tester-role/tester"
			wantMsg := "User: " + role + " is not authorized to perform: " + c.wantAction + " on resource: " + c.wantResource +
				" because no identity-based policy allows the " + c.wantAction + " action"
			if ae.ErrorMessage() != wantMsg {
				t.Errorf("got message %q, want %q", ae.ErrorMessage(), wantMsg)
			}
			d := srv.Denials()
			if len(d) != 1 || d[0].Action != c.wantAction || d[0].Resource != c.wantResource || d[0].Principal != role {
				t.Errorf("got denials %+v, want one of %s on %s by %s", d, c.wantAction, c.wantResource, role)
			}
			if log := srv.Log.String(); strings.Count(log, "\n") != 1 || !strings.Contains(log, c.wantAction+" on "+c.wantResource) || !strings.Contains(log, role) {
				t.Errorf("got log %q, want one line naming %s on %s and %s", log, c.wantAction, c.wantResource, role)
			}
			if c.pk != "" {
				if n := itemsUnder(t, table, c.pk); n != 0 {
					t.Errorf("got %d items under %s after the denial, want 0", n, c.pk)
				}
			}
		})
	}
}

// TestAllowedCallsReachDynamoDBLocal makes every kind of call a role may
// make, so that each mapping to IAM actions is also shown to let through
// what it should.
func TestAllowedCallsReachDynamoDBLocal(t *testing.T) {
	ctx := context.Background()
	table := ddbtest.Table(t, ddbtest.Client(t), tableDef)
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": str(pk), "sk": str("1")}
	}
	p := principal("all",
		allow(TableARN(DefaultRegion, DefaultAccountID, table),
			"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
			"dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"),
		// A wildcard statement, as a policy for any index of the test tables.
		allow("arn:aws:dynamodb:*:*:table/events-test-*/index/*", "dynamodb:Query"),
	)
	srv := serve(t, Options{}, p)
	c := client(t, srv.URL, p)

	calls := []struct {
		name string
		call func() error
	}{
		{"PutItem", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("a")})
			return err
		}},
		{"GetItem", func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key("a")})
			return err
		}},
		{"Query of the table", func() error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("a")}})
			return err
		}},
		{"Query of the index", func() error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &table, IndexName: aws.String(eventstore.TypeIndex),
				KeyConditionExpression: aws.String("gpk = :g"), ExpressionAttributeValues: map[string]types.AttributeValue{":g": str("x")}})
			return err
		}},
		{"TransactWriteItems of a Put, an Update, a Delete and a ConditionCheck", func() error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: &table, Item: key("b")}},
				{Update: &types.Update{TableName: &table, Key: key("c"), UpdateExpression: aws.String("SET v = :v"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":v": str("v")}}},
				{Delete: &types.Delete{TableName: &table, Key: key("a")}},
				{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: key("d"), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			}})
			return err
		}},
		{"TransactGetItems", func() error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: &table, Key: key("b")}}}})
			return err
		}},
		{"BatchWriteItem", func() error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
				table: {{PutRequest: &types.PutRequest{Item: key("e")}}}}})
			return err
		}},
		{"BatchGetItem", func() error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				table: {Keys: []map[string]types.AttributeValue{key("e")}}}})
			return err
		}},
		{"DescribeTable", func() error {
			_, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
			return err
		}},
	}
	for _, call := range calls {
		t.Run(call.name+" passes", func(t *testing.T) {
			if err := call.call(); err != nil {
				t.Fatalf("got %v, want no error", err)
			}
		})
	}
	if d := srv.Denials(); len(d) != 0 {
		t.Errorf("got denials %+v, want none", d)
	}
	for _, pk := range []string{"b", "c", "e"} {
		if n := itemsUnder(t, table, pk); n != 1 {
			t.Errorf("got %d items under %s, want 1 (written through the server)", n, pk)
		}
	}

	t.Run("DynamoDB Local's errors come back as they are", func(t *testing.T) {
		admin := principal("admin", allow("*", "dynamodb:*"))
		srv := serve(t, Options{}, admin)
		_, err := client(t, srv.URL, admin).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("no-such-table"), Key: key("a")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) || nf.ErrorMessage() != "Cannot do operations on a non-existent table" {
			t.Errorf("got %v, want DynamoDB Local's ResourceNotFoundException", err)
		}
	})
}

// tamper changes a request's body after the SDK signed it.
type tamper struct{ from, to string }

func (tp tamper) Do(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	body = bytes.Replace(body, []byte(tp.from), []byte(tp.to), 1)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultClient.Do(r)
}

func TestUnauthenticatedCallsAreRefused(t *testing.T) {
	ctx := context.Background()
	table := ddbtest.Table(t, ddbtest.Client(t), tableDef)
	p := principal("writer", allow(TableARN(DefaultRegion, DefaultAccountID, table), "dynamodb:PutItem"))
	srv := serve(t, Options{}, p)

	cases := []struct {
		name     string
		opts     func(*dynamodb.Options)
		wantCode string // "" for a call that passes
	}{
		{"a call signed with the role's key passes", func(*dynamodb.Options) {}, ""},
		{"a call signed with a session token passes", func(o *dynamodb.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "session-token")
		}, ""},
		{"an unknown access key is refused", func(o *dynamodb.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", p.SecretAccessKey, "")
		}, "UnrecognizedClientException"},
		{"a signature made with another secret key is refused", func(o *dynamodb.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(p.AccessKeyID, "not-the-secret", "")
		}, "InvalidSignatureException"},
		{"a body changed after signing is refused", func(o *dynamodb.Options) {
			o.HTTPClient = tamper{`"original"`, `"tampered"`}
		}, "InvalidSignatureException"},
		{"a signature scoped to another region is refused", func(o *dynamodb.Options) {
			o.Region = "eu-west-1"
		}, "InvalidSignatureException"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pk := "auth-" + string(rune('a'+i))
			before := len(srv.Denials())
			_, err := client(t, srv.URL, p, c.opts).PutItem(ctx, &dynamodb.PutItemInput{TableName: &table,
				Item: map[string]types.AttributeValue{"pk": str(pk), "sk": str("1"), "v": str("original")}})
			want := int32(1)
			if c.wantCode != "" {
				want = 0
				if got := errorCode(err); got != c.wantCode {
					t.Errorf("got error %v, want %s", err, c.wantCode)
				}
				if d := srv.Denials(); len(d) == before || d[len(d)-1].Code != c.wantCode {
					t.Errorf("got denials %+v, want a last one of %s", d, c.wantCode)
				}
			} else if err != nil {
				t.Errorf("got %v, want no error", err)
			}
			if n := itemsUnder(t, table, pk); n != want {
				t.Errorf("got %d items under %s, want %d", n, pk, want)
			}
		})
	}
}

// TestCallsOfNoKnownServiceAreRefused sends raw requests, as no SDK client
// would.
func TestCallsOfNoKnownServiceAreRefused(t *testing.T) {
	srv := serve(t, Options{})
	cases := []struct {
		name, target, wantType string
	}{
		{"a call without X-Amz-Target is an unknown operation", "", "com.amazon.coral.service#UnknownOperationException"},
		{"a call of another service is an unknown operation", "AmazonSQS.SendMessage", "com.amazon.coral.service#UnknownOperationException"},
		{"an unsigned DynamoDB call is refused", "DynamoDB_20120810.PutItem", "com.amazon.coral.service#MissingAuthenticationTokenException"},
		{"an unsigned Secrets Manager call is refused", "secretsmanager.GetSecretValue", "MissingAuthenticationTokenException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Target", c.target)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Type string `json:"__type"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || body.Type != c.wantType {
				t.Errorf("got %d %q, want 400 %q", resp.StatusCode, body.Type, c.wantType)
			}
		})
	}
}
