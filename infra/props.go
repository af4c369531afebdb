package main

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// Defaults of StackProps.
const (
	DefaultRetentionDays = int(eventstore.DefaultRetention / (24 * time.Hour))
	DefaultLogRetention  = awslogs.RetentionDays_ONE_MONTH
	// DefaultThrottleRateLimit and DefaultThrottleBurstLimit bound what the
	// whole API serves, far below API Gateway's account-wide 10,000
	// requests a second and 5,000 burst, so one runaway client cannot take
	// the account's share nor run up the table's bill: at this rate, single
	// puts (7 write units each) cost at most 3,500 write units a second.
	DefaultThrottleRateLimit  = 500
	DefaultThrottleBurstLimit = 1000
)

// StackProps configures the device events stack. Zero values take the
// defaults documented on each field.
type StackProps struct {
	awscdk.StackProps

	// JwtIssuer is the issuer URL of the tokens the API accepts (for
	// Cognito, https://cognito-idp.<region>.amazonaws.com/<poolId>).
	// Empty: CDK context jwtIssuer; if that is empty too, the template takes
	// it as the CloudFormation parameter JwtIssuer.
	JwtIssuer string
	// JwtAudience lists the accepted "aud" (or, for Cognito access tokens,
	// "client_id") values. Empty: CDK context jwtAudience (comma list),
	// else the CloudFormation parameter JwtAudience.
	JwtAudience []string
	// CorsOrigins are the browser origins allowed to call the API. Empty:
	// no CORS configuration at all (server-to-server callers only).
	CorsOrigins []string
	// SourceDir is the root of the module whose functions/<name> the stack
	// builds into its bootstraps at synth. Empty: the module holding the
	// working directory (bootstrap.ModuleRoot).
	SourceDir string
	// RetentionDays is how long events are kept (the table's TTL). Nil:
	// DefaultRetentionDays; 0 keeps events forever.
	RetentionDays *int
	// LogRetention is the retention of the functions' and the API's log
	// groups. Empty: DefaultLogRetention.
	LogRetention awslogs.RetentionDays
	// PutEventInvokerRoleArns are the IAM roles (of other Lambda functions)
	// allowed to invoke put-event directly. Each gets a resource-based
	// permission on that function and nothing else.
	PutEventInvokerRoleArns []string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// DeletionProtection of the table. Nil: on.
	DeletionProtection *bool
	// ThrottleRateLimit is the steady rate, in requests a second, the API's
	// stage serves before answering 429. 0: DefaultThrottleRateLimit.
	ThrottleRateLimit float64
	// ThrottleBurstLimit is how many requests the stage serves at once
	// above the rate. 0: DefaultThrottleBurstLimit.
	ThrottleBurstLimit int
	// ReservedConcurrency maps function names (routes.Functions) to the
	// concurrent executions reserved for them, which is also their
	// ceiling. Unset functions share the account's unreserved pool. Off by
	// default: a reservation takes its executions from every other
	// function of the account, and Lambda refuses one that leaves fewer
	// than 100 unreserved (new accounts may have only 10 in all).
	ReservedConcurrency map[string]int
	// MaxReadRequestUnits and MaxWriteRequestUnits cap the on-demand
	// throughput of the table and of its type index, in request units a
	// second; requests above them are throttled (and alarmed). 0: no cap.
	MaxReadRequestUnits  int
	MaxWriteRequestUnits int
	// RegistryAPI deploys the DeLaval registry's own API (the routes of
	// routes.Registry, served by the same functions) as a REST API that is
	// never public without authentication: RegistryPrivate (reachable only
	// through RegistryVPCEndpointIDs) or RegistryIAM (every request
	// SigV4-signed). Empty: no registry API.
	RegistryAPI RegistryMode
	// RegistryVPCEndpointIDs are the interface VPC endpoints of the
	// execute-api service (vpce-...) a private registry API is reached
	// through, and the only way in. Required with RegistryPrivate, refused
	// otherwise.
	RegistryVPCEndpointIDs []string
	// SAMLocal synthesizes the template for `sam local` only, never to be
	// deployed: the functions also declare an empty
	// AWS_ENDPOINT_URL_DYNAMODB, which SAM's --env-vars may then set (it
	// only overrides variables a template declares), and the paging
	// functions get no page-token secret, so they sign with a key of
	// their own instance.
	SAMLocal bool
}

var (
	roleArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	// vpcEndpointPattern is the shape of a VPC endpoint id.
	vpcEndpointPattern = regexp.MustCompile(`^vpce-[0-9a-f]{8,17}$`)
)

// Validate reports the first prop the stack cannot be built with. Errors
// name the prop by its CDK context key.
func (p *StackProps) Validate() error {
	if p.RetentionDays != nil && *p.RetentionDays < 0 {
		return fmt.Errorf("retentionDays: got %d, want 0 (keep forever) or more", *p.RetentionDays)
	}
	for _, arn := range p.PutEventInvokerRoleArns {
		if !roleArnPattern.MatchString(arn) {
			return fmt.Errorf("putEventInvokerRoleArns: %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn)
		}
	}
	for _, o := range p.CorsOrigins {
		if o == "*" {
			continue
		}
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
			return fmt.Errorf("corsOrigins: %q is not an origin (https://host[:port] or *)", o)
		}
	}
	if p.AlarmEmail != "" && !strings.Contains(p.AlarmEmail, "@") {
		return fmt.Errorf("alarmEmail: %q is not an email address", p.AlarmEmail)
	}
	if p.ThrottleRateLimit < 0 {
		return fmt.Errorf("throttleRateLimit: got %v, want 0 (the default) or more requests a second", p.ThrottleRateLimit)
	}
	if p.ThrottleBurstLimit < 0 {
		return fmt.Errorf("throttleBurstLimit: got %d, want 0 (the default) or more requests", p.ThrottleBurstLimit)
	}
	for _, fn := range sortedKeys(p.ReservedConcurrency) {
		if !isFunction(fn) {
			return fmt.Errorf("reservedConcurrency: %q is not a function, want one of %v", fn, routes.Functions)
		}
		// 0 would stop the function altogether: a switch for an incident,
		// not for a deployment.
		if n := p.ReservedConcurrency[fn]; n < 1 {
			return fmt.Errorf("reservedConcurrency: %s got %d, want 1 or more", fn, n)
		}
	}
	if p.MaxReadRequestUnits < 0 {
		return fmt.Errorf("maxReadRequestUnits: got %d, want 0 (no cap) or more", p.MaxReadRequestUnits)
	}
	if p.MaxWriteRequestUnits < 0 {
		return fmt.Errorf("maxWriteRequestUnits: got %d, want 0 (no cap) or more", p.MaxWriteRequestUnits)
	}
	return p.validateRegistry()
}

// validateRegistry refuses a registry API that would be open, or that is
// not what its props say: endpoint ids without the private mode would
// read as a private API that is not one.
func (p *StackProps) validateRegistry() error {
	switch p.RegistryAPI {
	case "", RegistryIAM:
		if len(p.RegistryVPCEndpointIDs) > 0 {
			return fmt.Errorf("registryVpcEndpointIds: got %v with registryApi=%q, want them only with registryApi=%s", p.RegistryVPCEndpointIDs, p.RegistryAPI, RegistryPrivate)
		}
	case RegistryPrivate:
		if len(p.RegistryVPCEndpointIDs) == 0 {
			return fmt.Errorf("registryVpcEndpointIds: got none, want the execute-api VPC endpoints (vpce-...) the private registry API is reached through")
		}
		for _, id := range p.RegistryVPCEndpointIDs {
			if !vpcEndpointPattern.MatchString(id) {
				return fmt.Errorf("registryVpcEndpointIds: %q is not a VPC endpoint id (vpce-<hex>)", id)
			}
		}
	default:
		return fmt.Errorf("registryApi: got %q, want %s, %s or none (no registry API)", p.RegistryAPI, RegistryPrivate, RegistryIAM)
	}
	return nil
}

func isFunction(name string) bool {
	for _, fn := range routes.Functions {
		if fn == name {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PropsFromContext reads the stack props from the CDK context (cdk.json or
// `cdk synth -c key=value`). jwtIssuer and jwtAudience are left to the
// stack, which reads the same keys.
func PropsFromContext(node constructs.Node) (*StackProps, error) {
	p := &StackProps{
		AlarmEmail:              contextString(node, "alarmEmail"),
		CorsOrigins:             contextList(node, "corsOrigins"),
		PutEventInvokerRoleArns: contextList(node, "putEventInvokerRoleArns"),
		RegistryAPI:             RegistryMode(contextString(node, "registryApi")),
		RegistryVPCEndpointIDs:  contextList(node, "registryVpcEndpointIds"),
	}
	var err error
	if p.RetentionDays, err = contextInt(node, "retentionDays"); err != nil {
		return nil, err
	}
	if p.DeletionProtection, err = contextBool(node, "deletionProtection"); err != nil {
		return nil, err
	}
	if p.LogRetention, err = contextLogRetention(node, "logRetentionDays"); err != nil {
		return nil, err
	}
	if p.ThrottleRateLimit, err = contextNumber(node, "throttleRateLimit"); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		key string
		dst *int
	}{
		{"throttleBurstLimit", &p.ThrottleBurstLimit},
		{"maxReadRequestUnits", &p.MaxReadRequestUnits},
		{"maxWriteRequestUnits", &p.MaxWriteRequestUnits},
	} {
		n, err := contextInt(node, c.key)
		if err != nil {
			return nil, err
		}
		if n != nil {
			*c.dst = *n
		}
	}
	if p.ReservedConcurrency, err = contextIntMap(node, "reservedConcurrency"); err != nil {
		return nil, err
	}
	sam, err := contextBool(node, "samLocal")
	if err != nil {
		return nil, err
	}
	p.SAMLocal = sam != nil && *sam
	return p, p.Validate()
}

// contextString reads a CDK context value given as a string, number or
// boolean (-c key=value gives strings; cdk.json may give JSON types).
func contextString(node constructs.Node, key string) string {
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// contextList reads a CDK context value given as a comma list or as a JSON
// array of strings; empty items are dropped.
func contextList(node constructs.Node, key string) []string {
	var items []string
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case nil:
		return nil
	case []interface{}:
		for _, item := range v {
			items = append(items, fmt.Sprint(item))
		}
	default:
		items = strings.Split(contextString(node, key), ",")
	}
	var out []string
	for _, item := range items {
		if s := strings.TrimSpace(item); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var errNotInt = errors.New("not a whole number")

// contextInt reads an optional whole number from the CDK context.
func contextInt(node constructs.Node, key string) (*int, error) {
	s := contextString(node, key)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is %w", key, s, errNotInt)
	}
	return &n, nil
}

// contextNumber reads an optional number from the CDK context; unset is 0.
func contextNumber(node constructs.Node, key string) (float64, error) {
	s := contextString(node, key)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", key, s)
	}
	return f, nil
}

// contextBool reads an optional boolean from the CDK context.
func contextBool(node constructs.Node, key string) (*bool, error) {
	s := contextString(node, key)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not true or false", key, s)
	}
	return &b, nil
}

// contextIntMap reads names mapped to whole numbers, given as a JSON
// object in cdk.json ({"put-event": 50}) or as a list of name=number
// (-c reservedConcurrency=put-event=50,list-events=20).
func contextIntMap(node constructs.Node, key string) (map[string]int, error) {
	pairs := map[string]string{}
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case nil:
		return nil, nil
	case map[string]interface{}:
		for name, n := range v {
			pairs[name] = strings.TrimSpace(fmt.Sprint(n))
		}
	default:
		for _, item := range contextList(node, key) {
			name, n, ok := strings.Cut(item, "=")
			if !ok {
				return nil, fmt.Errorf("%s: %q is not name=number", key, item)
			}
			pairs[strings.TrimSpace(name)] = strings.TrimSpace(n)
		}
	}
	out := make(map[string]int, len(pairs))
	for name, s := range pairs {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q is %w", key, name, s, errNotInt)
		}
		out[name] = n
	}
	return out, nil
}

// logRetentionDays maps the day counts CloudWatch Logs accepts to CDK's
// enum; 0 is "never expire".
var logRetentionDays = map[int]awslogs.RetentionDays{
	0: awslogs.RetentionDays_INFINITE, 1: awslogs.RetentionDays_ONE_DAY,
	3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS,
	30: awslogs.RetentionDays_ONE_MONTH, 60: awslogs.RetentionDays_TWO_MONTHS,
	90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS,
	365: awslogs.RetentionDays_ONE_YEAR, 400: awslogs.RetentionDays_THIRTEEN_MONTHS,
	545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS,
	2192: awslogs.RetentionDays_SIX_YEARS, 2557: awslogs.RetentionDays_SEVEN_YEARS,
	2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// contextLogRetention reads a log retention in days; unset is "".
func contextLogRetention(node constructs.Node, key string) (awslogs.RetentionDays, error) {
	days, err := contextInt(node, key)
	if err != nil || days == nil {
		return "", err
	}
	r, ok := logRetentionDays[*days]
	if !ok {
		valid := make([]int, 0, len(logRetentionDays))
		for d := range logRetentionDays {
			valid = append(valid, d)
		}
		sort.Ints(valid)
		return "", fmt.Errorf("%s: got %d, want one of %v", key, *days, valid)
	}
	return r, nil
}
