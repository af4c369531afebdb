// Package awslocal is the local endpoint of the AWS services the functions
// call, DynamoDB and Secrets Manager, checking every call as AWS does:
// who signed it, and whether that role may make it. DynamoDB Local has no
// IAM, so without this a function whose role lacks an action it calls
// (patch-event writing with PutItem while granted GetItem and UpdateItem
// only) works locally and fails on every call in AWS.
//
// Point a function's AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_SECRETS_MANAGER at a Server, and give it the access key
// of its role: PrincipalFor derives the role from routes.Permissions as
// infra/stack.go grants it, with fake credentials.
//
// # What it mirrors
//
//   - Authentication: the SigV4 Authorization header must name a known
//     access key, be scoped to the service and the region, and carry the
//     signature of the request as received (the headers the caller signed
//     and the body), re-computed with the SDK's own signer and the
//     principal's secret key. Otherwise: MissingAuthenticationTokenException,
//     IncompleteSignatureException, UnrecognizedClientException or
//     InvalidSignatureException, as the services answer.
//   - Identity-based Allow policies (Principal.Allow), with IAM's
//     wildcards: a call needs every permission IAM checks for it, else it
//     gets AccessDeniedException worded as IAM words it, and is not
//     forwarded. GetItem, PutItem, UpdateItem, DeleteItem, Query and Scan
//     are checked on the table, Query and Scan with IndexName on the index
//     (a resource of its own); BatchGetItem and BatchWriteItem need that
//     action on each table; a TransactWriteItems needs PutItem, UpdateItem,
//     DeleteItem or ConditionCheckItem per item and a TransactGetItems
//     GetItem per item, since IAM has no action for the transaction as a
//     whole; any other operation needs dynamodb:<Operation> on its table
//     (or on "*" when it names none).
//   - Secrets Manager's GetSecretValue, by ARN, partial ARN or name, for
//     the AWSCURRENT and AWSPREVIOUS versions (SetSecret rotates), after
//     the IAM check on the secret's ARN.
//
// DynamoDB's own rules are DynamoDB Local's to enforce, and the release
// pinned in infra/local/package-lock.json enforces those the store could
// break: at most 100 actions and one operation per item in a transaction,
// 4 MB per transaction, 400 KB per item (409,600 bytes accepted, one more
// refused, with items sized byte for byte as DynamoDB sizes them, numbers
// included), 25 requests per BatchWriteItem and 100 keys per BatchGetItem.
// So allowed calls go to DynamoDB Local unchanged and its answers come back
// as they are; the tests hold each rule through the server, so a DynamoDB
// Local that stopped enforcing one would fail them.
//
// # What it does not mirror
//
// Deny statements, policy conditions (dynamodb:LeadingKeys, aws:SourceIp,
// ...), resource-based policies (a secret's resource policy), permission
// boundaries, session policies and SCPs; KMS (no kms:Decrypt on a secret's
// key); throttling, capacity and quotas; request time skew (AWS refuses a
// signature more than 15 minutes old) and the validity of a session token
// (any X-Amz-Security-Token the caller signed is taken); PartiQL, whose
// statements IAM checks as dynamodb:PartiQL* on the tables they name (here
// ExecuteStatement and friends need dynamodb:<Operation> on "*");
// DynamoDB Streams; Secrets Manager operations other than GetSecretValue
// (refused with UnsupportedOperationException); and the exact wording of
// DynamoDB's ValidationExceptions where DynamoDB Local's differs.
//
// Answers made here carry a correct X-Amz-Crc32. Answers forwarded from
// DynamoDB Local carry its own, which is wrong on errors: clients set
// DisableValidateResponseChecksum, as function.DynamoDB does for any endpoint.
package awslocal
