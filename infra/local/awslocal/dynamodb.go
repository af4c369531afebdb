package awslocal

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// dynamoDBRequest holds what the IAM checks of a DynamoDB call read.
type dynamoDBRequest struct {
	TableName   string
	IndexName   string
	ResourceArn string
	// RequestItems of BatchGetItem and BatchWriteItem, by table.
	RequestItems  map[string]json.RawMessage
	TransactItems []struct {
		Get, Put, Update, Delete, ConditionCheck *struct{ TableName string }
	}
}

// serveDynamoDB checks the call against p's policy and forwards it to
// DynamoDB Local, which enforces DynamoDB's own rules (see the package
// documentation).
func (s *Server) serveDynamoDB(w http.ResponseWriter, r *http.Request, p Principal, op string, body []byte) {
	target := dynamoDB.targetPrefix + op
	var req dynamoDBRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.refuse(w, dynamoDB, target, s.assumedRole(p), &apiError{code: "SerializationException", message: "The request body is not a DynamoDB JSON request: " + err.Error()})
		return
	}
	if e := s.authorize(p, s.dynamoDBChecks(op, &req)); e != nil {
		s.refuse(w, dynamoDB, target, s.assumedRole(p), e)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.proxy.ServeHTTP(w, r)
}

// dynamoDBChecks lists the permissions IAM checks for a DynamoDB call.
// Batch and transaction calls need a permission per table or per item,
// and a transaction's items need the actions of their kind: IAM has no
// TransactWriteItems or TransactGetItems action.
func (s *Server) dynamoDBChecks(op string, req *dynamoDBRequest) []check {
	on := func(action, table string) check { return check{"dynamodb:" + action, s.tableResource(table)} }
	switch op {
	case "Query", "Scan":
		if req.IndexName != "" {
			return []check{{"dynamodb:" + op, s.tableResource(req.TableName) + "/index/" + req.IndexName}}
		}
	case "BatchGetItem", "BatchWriteItem":
		var checks []check
		for _, table := range slices.Sorted(maps.Keys(req.RequestItems)) {
			checks = append(checks, on(op, table))
		}
		return checks
	case "TransactGetItems":
		var checks []check
		for _, it := range req.TransactItems {
			if it.Get != nil {
				checks = append(checks, on("GetItem", it.Get.TableName))
			}
		}
		return checks
	case "TransactWriteItems":
		var checks []check
		for _, it := range req.TransactItems {
			switch {
			case it.Put != nil:
				checks = append(checks, on("PutItem", it.Put.TableName))
			case it.Update != nil:
				checks = append(checks, on("UpdateItem", it.Update.TableName))
			case it.Delete != nil:
				checks = append(checks, on("DeleteItem", it.Delete.TableName))
			case it.ConditionCheck != nil:
				checks = append(checks, on("ConditionCheckItem", it.ConditionCheck.TableName))
			}
		}
		return checks
	}
	switch {
	case req.TableName != "":
		return []check{on(op, req.TableName)}
	case req.ResourceArn != "":
		return []check{{"dynamodb:" + op, req.ResourceArn}}
	default:
		// ListTables and the like: actions on no particular resource.
		return []check{{"dynamodb:" + op, "*"}}
	}
}

// tableResource is the ARN of a table named by its name or its ARN.
func (s *Server) tableResource(table string) string {
	if strings.HasPrefix(table, "arn:") {
		return table
	}
	return TableARN(s.region, s.account, table)
}
