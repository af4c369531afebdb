package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/pkg/routes"
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	// jsii runs on Node; keep its version banners out of the test output,
	// and the deprecation warnings of the CDK's own calls (TableV2 passes
	// TableGrantsProps#encryptedResource): TestNoDeprecatedAPIs checks
	// the app's.
	for k, v := range map[string]string{
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION":  "1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20,21,22",
		"JSII_DEPRECATED": "quiet",
	} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	dir, err := os.MkdirTemp("", "infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer jsii.Close()
	fixtureRoot = dir
	return m.Run()
}

// fixture is one synthesized stack. Building and synthesizing a stack takes
// seconds (its seven bootstraps are built, from Go's build cache once warm)
// and asserting on it milliseconds, so each configuration is built once
// per test binary and shared.
type fixture struct {
	stack    awscdk.Stack
	template map[string]interface{}
	outdir   string
}

type lazyFixture struct {
	once sync.Once
	f    *fixture
	err  error
}

var (
	fixtureRoot string
	fixtures    = map[string]*lazyFixture{}
	fixturesMu  sync.Mutex
)

// build returns the fixture called name, building it on first use with the
// extra CDK context and the props that props returns for the new app.
func build(t *testing.T, name string, context map[string]interface{}, props func(awscdk.App) (*StackProps, error)) *fixture {
	t.Helper()
	fixturesMu.Lock()
	lf, ok := fixtures[name]
	if !ok {
		lf = &lazyFixture{}
		fixtures[name] = lf
	}
	fixturesMu.Unlock()

	lf.once.Do(func() {
		lf.f, lf.err = synthesize(filepath.Join(fixtureRoot, "cdk.out."+name), context, props)
	})
	if lf.err != nil {
		t.Fatalf("fixture %s: %v", name, lf.err)
	}
	return lf.f
}

// synthesize builds the stack as main does, into outdir.
func synthesize(outdir string, context map[string]interface{}, props func(awscdk.App) (*StackProps, error)) (f *fixture, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("building the stack panicked: %v", r)
		}
	}()
	ctx, err := AppContext()
	if err != nil {
		return nil, err
	}
	for k, v := range context {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &ctx})
	p, err := props(app)
	if err != nil {
		return nil, err
	}
	stack := NewDeviceEventsStack(app, StackID, p)
	ApplyNagChecks(app)
	app.Synth(nil)
	template := assertions.Template_FromStack(stack, nil)
	return &fixture{stack: stack, template: *template.ToJSON(), outdir: outdir}, nil
}

// Props of the fully configured stack.
var (
	testIssuer      = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST"
	testAudience    = []string{"client-a", "client-b"}
	testCorsOrigins = []string{"https://dashboard.example.com"}
	testInvokers    = []string{
		"arn:aws:iam::123456789012:role/get-greengrass-configurations",
		"arn:aws:iam::210987654321:role/other-account-reporter",
	}
	testRetentionDays = 30
	testAlarmEmail    = "ops@example.com"
	testReserved      = map[string]int{routes.PutEvent: 50, routes.ListEvents: 20}
	testVPCEndpoints  = []string{"vpce-0a1b2c3d4e5f60718", "vpce-0123456789abcdef0"}
)

// configuredProps are the props of the stack with every prop set.
func configuredProps() *StackProps {
	return &StackProps{
		JwtIssuer:               testIssuer,
		JwtAudience:             testAudience,
		CorsOrigins:             testCorsOrigins,
		RetentionDays:           &testRetentionDays,
		LogRetention:            awslogs.RetentionDays_TWO_WEEKS,
		PutEventInvokerRoleArns: testInvokers,
		AlarmEmail:              testAlarmEmail,
		ThrottleRateLimit:       25.5,
		ThrottleBurstLimit:      60,
		ReservedConcurrency:     testReserved,
		MaxReadRequestUnits:     4000,
		MaxWriteRequestUnits:    1500,
		RegistryAPI:             RegistryPrivate,
		RegistryVPCEndpointIDs:  testVPCEndpoints,
	}
}

// configured is the stack with every prop set.
func configured(t *testing.T) *fixture {
	t.Helper()
	return build(t, "configured", nil, func(awscdk.App) (*StackProps, error) {
		return configuredProps(), nil
	})
}

// unbundled is the CDK context that skips building the functions' code,
// as `cdk synth --exclusively` does for the stacks it leaves out, for the
// fixtures whose tests do not look at the code.
var unbundled = map[string]interface{}{"aws:cdk:bundling-stacks": []interface{}{}}

// defaults is the stack with nothing set: what `make synth` gives without
// any context.
func defaults(t *testing.T) *fixture {
	t.Helper()
	return build(t, "defaults", unbundled, func(awscdk.App) (*StackProps, error) {
		return &StackProps{}, nil
	})
}

// Context of the stack configured through CDK context, as main does.
var testContext = map[string]interface{}{
	"jwtIssuer":               "https://issuer.example.com/context",
	"jwtAudience":             "ctx-a, ctx-b",
	"retentionDays":           "0",
	"deletionProtection":      "false",
	"logRetentionDays":        "7",
	"putEventInvokerRoleArns": testInvokers[0],
	"corsOrigins":             "https://a.example.com,https://b.example.com",
	"alarmEmail":              "",
	"throttleRateLimit":       "12",
	"throttleBurstLimit":      "34",
	"reservedConcurrency":     "delete-event=3",
	"maxReadRequestUnits":     "100",
	"maxWriteRequestUnits":    "200",
	"registryApi":             "iam",
}

func fromContext(t *testing.T) *fixture {
	t.Helper()
	ctx := map[string]interface{}{}
	for k, v := range testContext {
		ctx[k] = v
	}
	for k, v := range unbundled {
		ctx[k] = v
	}
	return build(t, "context", ctx, func(app awscdk.App) (*StackProps, error) {
		return PropsFromContext(app.Node())
	})
}

// samLocal is the stack `make sam` synthesizes for SAM CLI.
func samLocal(t *testing.T) *fixture {
	t.Helper()
	return build(t, "sam", map[string]interface{}{"samLocal": "true"}, func(app awscdk.App) (*StackProps, error) {
		return PropsFromContext(app.Node())
	})
}

// --- template helpers ---

type resource = map[string]interface{}

func resources(tmpl map[string]interface{}) map[string]resource {
	out := map[string]resource{}
	for id, r := range tmpl["Resources"].(map[string]interface{}) {
		out[id] = r.(map[string]interface{})
	}
	return out
}

func resourcesOfType(tmpl map[string]interface{}, typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range resources(tmpl) {
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func properties(r resource) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

// mustResource returns the resource with the logical id, of the type.
func mustResource(t *testing.T, tmpl map[string]interface{}, id, typ string) resource {
	t.Helper()
	r, ok := resources(tmpl)[id]
	if !ok {
		t.Fatalf("resource %s: got none, want a %s", id, typ)
	}
	if r["Type"] != typ {
		t.Fatalf("resource %s: got type %v, want %s", id, r["Type"], typ)
	}
	return r
}

// loggedFormat checks that a stage's access log settings send to a log
// group of the template, and returns their JSON format's fields.
func loggedFormat(t *testing.T, tmpl map[string]interface{}, settings interface{}) map[string]string {
	t.Helper()
	logs, _ := settings.(map[string]interface{})
	dest, _ := logs["DestinationArn"].(map[string]interface{})
	att, _ := dest["Fn::GetAtt"].([]interface{})
	if len(att) != 2 {
		t.Fatalf("access log DestinationArn: got %v, want the Arn of a log group", logs["DestinationArn"])
	}
	mustResource(t, tmpl, att[0].(string), "AWS::Logs::LogGroup")
	var format map[string]string
	if err := json.Unmarshal([]byte(fmt.Sprint(logs["Format"])), &format); err != nil {
		t.Fatalf("access log Format: got %v, want a JSON object (%v)", logs["Format"], err)
	}
	return format
}

func onlyResourceOfType(t *testing.T, tmpl map[string]interface{}, typ string) (string, resource) {
	t.Helper()
	rs := resourcesOfType(tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%s resources: got %d, want 1", typ, len(rs))
	}
	for id, r := range rs {
		return id, r
	}
	panic("unreachable")
}

// canon is a value as canonical JSON, to compare template fragments.
func canon(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

func ref(id string) map[string]interface{} { return map[string]interface{}{"Ref": id} }

func getAttArn(id string) map[string]interface{} {
	return map[string]interface{}{"Fn::GetAtt": []interface{}{id, "Arn"}}
}

// stringList returns a template value that is a string or a list of strings
// as a sorted list.
func stringList(v interface{}) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []interface{}:
		for _, s := range v {
			out = append(out, fmt.Sprint(s))
		}
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// --- tests ---

// functionsOf counts the functions that serve the routes of api.
func functionsOf(api routes.API) int {
	fns := map[string]bool{}
	for _, r := range routes.ForAPI(api) {
		fns[r.Function] = true
	}
	return len(fns)
}

func TestStackResources(t *testing.T) {
	tmpl := configured(t).template
	for _, c := range []struct {
		typ  string
		want int
	}{
		{"AWS::Lambda::Function", len(routes.Functions)},
		{"AWS::DynamoDB::GlobalTable", 1},
		// The events API and the key API.
		{"AWS::ApiGatewayV2::Api", 2},
		{"AWS::ApiGatewayV2::Stage", 2},
		{"AWS::ApiGatewayV2::Authorizer", 2},
		{"AWS::ApiGatewayV2::Route", len(routes.ForAPI(routes.Events)) + len(routes.ForAPI(routes.Keys))},
		// One per function of each API's routes.
		{"AWS::ApiGatewayV2::Integration", functionsOf(routes.Events) + functionsOf(routes.Keys)},
		{"AWS::ApiGateway::RestApi", 1},
		{"AWS::ApiGateway::Stage", 1},
		{"AWS::ApiGateway::Method", len(routes.ForAPI(routes.Registry))},
		{"AWS::ApiGateway::Account", 1},
		// The page-token key and the key pepper.
		{"AWS::SecretsManager::Secret", 2},
		{"AWS::SNS::Topic", 1},
		{"AWS::SNS::Subscription", 1},
		// Errors (but the authorizer's, whose errors are its 401s) and
		// throttles of each function, each API's 5xx, the table's
		// throttling.
		{"AWS::CloudWatch::Alarm", 2*len(routes.Functions) - len(routes.Authorizers) + 4},
		// The functions' and API Gateway's account logging role.
		{"AWS::IAM::Role", len(routes.Functions) + 1},
	} {
		t.Run(fmt.Sprintf("has %d %s", c.want, c.typ), func(t *testing.T) {
			if got := len(resourcesOfType(tmpl, c.typ)); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
	t.Run("the table, the APIs and each function have stable logical ids", func(t *testing.T) {
		mustResource(t, tmpl, TableLogicalID, "AWS::DynamoDB::GlobalTable")
		mustResource(t, tmpl, APILogicalID, "AWS::ApiGatewayV2::Api")
		mustResource(t, tmpl, KeysAPILogicalID, "AWS::ApiGatewayV2::Api")
		mustResource(t, tmpl, RegistryAPILogicalID, "AWS::ApiGateway::RestApi")
		mustResource(t, tmpl, KeyPepperLogicalID, "AWS::SecretsManager::Secret")
		for _, fn := range routes.Functions {
			mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function")
		}
	})
}

func TestOutputs(t *testing.T) {
	outputs, _ := configured(t).template["Outputs"].(map[string]interface{})
	want := map[string]interface{}{"TableName": ref(TableLogicalID)}
	for _, fn := range routes.Functions {
		want[FunctionNameOutput(fn)] = ref(FunctionLogicalID(fn))
	}
	for name, value := range want {
		t.Run("output "+name+" is there", func(t *testing.T) {
			o, _ := outputs[name].(map[string]interface{})
			if got, w := canon(o["Value"]), canon(value); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})
	}
	for name, api := range map[string]string{"ApiUrl": APILogicalID, "KeysApiUrl": KeysAPILogicalID, "RegistryApiUrl": RegistryAPILogicalID} {
		t.Run("output "+name+" is the https URL of "+api, func(t *testing.T) {
			o, _ := outputs[name].(map[string]interface{})
			got := canon(o["Value"])
			if !strings.Contains(got, `"https://"`) || !strings.Contains(got, canon(ref(api))) {
				t.Errorf("got %s, want https://<%s>.execute-api...", got, api)
			}
		})
	}
	t.Run("without registryApi there is no RegistryApiUrl output", func(t *testing.T) {
		outputs, _ := defaults(t).template["Outputs"].(map[string]interface{})
		if o, ok := outputs["RegistryApiUrl"]; ok {
			t.Errorf("got %s, want none", canon(o))
		}
	})
}
