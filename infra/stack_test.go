package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// testAssetDir holds a dummy bootstrap per function; TestMain fills it.
var testAssetDir string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	// jsii runs on Node; keep its version banners out of the test output.
	for k, v := range map[string]string{
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION":  "1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20,21,22",
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

	testAssetDir = filepath.Join(dir, "lambda")
	for _, fn := range routes.Functions {
		if err := os.MkdirAll(filepath.Join(testAssetDir, fn), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// Distinct contents, so each function gets an asset of its own as
		// with real binaries.
		body := "#!/bin/sh\n# dummy " + fn + "\n"
		if err := os.WriteFile(filepath.Join(testAssetDir, fn, "bootstrap"), []byte(body), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fixtureRoot = dir
	return m.Run()
}

// fixture is one synthesized stack. Building and synthesizing a stack takes
// seconds and asserting on it milliseconds, so each configuration is built
// once per test binary and shared.
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
		defer func() {
			if r := recover(); r != nil {
				lf.err = fmt.Errorf("building the stack panicked: %v", r)
			}
		}()
		ctx, err := AppContext()
		if err != nil {
			lf.err = err
			return
		}
		for k, v := range context {
			ctx[k] = v
		}
		outdir := filepath.Join(fixtureRoot, "cdk.out."+name)
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &ctx})
		p, err := props(app)
		if err != nil {
			lf.err = err
			return
		}
		stack := NewDeviceEventsStack(app, StackID, p)
		ApplyNagChecks(app)
		app.Synth(nil)
		template := assertions.Template_FromStack(stack, nil)
		lf.f = &fixture{stack: stack, template: *template.ToJSON(), outdir: outdir}
	})
	if lf.err != nil {
		t.Fatalf("fixture %s: %v", name, lf.err)
	}
	return lf.f
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
)

// configured is the stack with every prop set.
func configured(t *testing.T) *fixture {
	t.Helper()
	return build(t, "configured", nil, func(awscdk.App) (*StackProps, error) {
		return &StackProps{
			JwtIssuer:               testIssuer,
			JwtAudience:             testAudience,
			CorsOrigins:             testCorsOrigins,
			AssetDir:                testAssetDir,
			RetentionDays:           &testRetentionDays,
			LogRetention:            awslogs.RetentionDays_TWO_WEEKS,
			PutEventInvokerRoleArns: testInvokers,
			AlarmEmail:              testAlarmEmail,
		}, nil
	})
}

// defaults is the stack with nothing set but the asset folder: what
// `make synth` gives without any context.
func defaults(t *testing.T) *fixture {
	t.Helper()
	return build(t, "defaults", nil, func(awscdk.App) (*StackProps, error) {
		return &StackProps{AssetDir: testAssetDir}, nil
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
}

func fromContext(t *testing.T) *fixture {
	t.Helper()
	ctx := map[string]interface{}{"assetDir": testAssetDir}
	for k, v := range testContext {
		ctx[k] = v
	}
	return build(t, "context", ctx, func(app awscdk.App) (*StackProps, error) {
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

func TestStackResources(t *testing.T) {
	tmpl := configured(t).template
	for _, c := range []struct {
		typ  string
		want int
	}{
		{"AWS::Lambda::Function", len(routes.Functions)},
		{"AWS::DynamoDB::GlobalTable", 1},
		{"AWS::ApiGatewayV2::Api", 1},
		{"AWS::ApiGatewayV2::Stage", 1},
		{"AWS::ApiGatewayV2::Authorizer", 1},
		{"AWS::ApiGatewayV2::Route", len(routes.All)},
		{"AWS::ApiGatewayV2::Integration", len(routes.Functions)},
		{"AWS::SecretsManager::Secret", 1},
		{"AWS::SNS::Topic", 1},
		{"AWS::SNS::Subscription", 1},
		{"AWS::CloudWatch::Alarm", 2*len(routes.Functions) + 2},
		{"AWS::IAM::Role", len(routes.Functions)},
	} {
		t.Run(fmt.Sprintf("has %d %s", c.want, c.typ), func(t *testing.T) {
			if got := len(resourcesOfType(tmpl, c.typ)); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
	t.Run("the table, the API and each function have stable logical ids", func(t *testing.T) {
		mustResource(t, tmpl, TableLogicalID, "AWS::DynamoDB::GlobalTable")
		mustResource(t, tmpl, APILogicalID, "AWS::ApiGatewayV2::Api")
		for _, fn := range routes.Functions {
			mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function")
		}
	})
}

func TestFunctions(t *testing.T) {
	tmpl := configured(t).template
	secretID, _ := onlyResourceOfType(t, tmpl, "AWS::SecretsManager::Secret")
	for _, fn := range routes.Functions {
		access := routes.Permissions[fn]
		r := mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function")
		p := properties(r)

		t.Run(fn+" runs a bootstrap binary on provided.al2023 on arm64", func(t *testing.T) {
			for _, c := range []struct {
				field string
				got   interface{}
				want  interface{}
			}{
				{"Runtime", p["Runtime"], "provided.al2023"},
				{"Architectures", canon(p["Architectures"]), `["arm64"]`},
				{"Handler", p["Handler"], "bootstrap"},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
				}
			}
		})

		t.Run(fn+" has a 10 s timeout, 256 MB, JSON logs in its own log group and active tracing", func(t *testing.T) {
			logging, _ := p["LoggingConfig"].(map[string]interface{})
			for _, c := range []struct {
				field string
				got   interface{}
				want  interface{}
			}{
				{"Timeout", p["Timeout"], float64(10)},
				{"MemorySize", p["MemorySize"], float64(256)},
				{"TracingConfig", canon(p["TracingConfig"]), `{"Mode":"Active"}`},
				{"LoggingConfig.LogFormat", logging["LogFormat"], "JSON"},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
				}
			}
			lg, _ := logging["LogGroup"].(map[string]interface{})
			lgID, _ := lg["Ref"].(string)
			logGroup := mustResource(t, tmpl, lgID, "AWS::Logs::LogGroup")
			if got := properties(logGroup)["RetentionInDays"]; got != float64(14) {
				t.Errorf("log group RetentionInDays: got %v, want 14", got)
			}
		})

		t.Run(fn+" gets the table, the retention and its page-token settings in its environment", func(t *testing.T) {
			env, _ := p["Environment"].(map[string]interface{})
			vars, _ := env["Variables"].(map[string]interface{})
			want := map[string]interface{}{
				"TABLE_NAME":        ref(TableLogicalID),
				"RETENTION_DAYS":    fmt.Sprint(testRetentionDays),
				"DYNAMODB_ENDPOINT": "",
			}
			if access.PageTokenKey {
				want["PAGE_TOKEN_SECRET_ARN"] = ref(secretID)
				want["PAGE_TOKEN_KEY"] = ""
			}
			if got, w := canon(vars), canon(want); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})
	}

	t.Run("the page-token secret is 64 lowercase hex characters", func(t *testing.T) {
		gen, _ := properties(resources(tmpl)[secretID])["GenerateSecretString"].(map[string]interface{})
		want := `{"ExcludeCharacters":"ghijklmnopqrstuvwxyz","ExcludePunctuation":true,"ExcludeUppercase":true,"IncludeSpace":false,"PasswordLength":64}`
		if got := canon(gen); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestRoutes(t *testing.T) {
	tmpl := configured(t).template
	authorizerID, _ := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Authorizer")
	byKey := map[string]resource{}
	for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
		key, _ := properties(r)["RouteKey"].(string)
		if _, dup := byKey[key]; dup {
			t.Errorf("route key %q: got two routes (%s and another), want one", key, id)
		}
		byKey[key] = r
	}

	for _, rt := range routes.All {
		t.Run(rt.Key()+" requires a JWT with exactly "+rt.Scope+" and calls "+rt.Function, func(t *testing.T) {
			r, ok := byKey[rt.Key()]
			if !ok {
				t.Fatalf("got no route with RouteKey %q, want one", rt.Key())
			}
			p := properties(r)
			if got := p["AuthorizationType"]; got != "JWT" {
				t.Errorf("AuthorizationType: got %v, want JWT", got)
			}
			if got, want := canon(p["AuthorizerId"]), canon(ref(authorizerID)); got != want {
				t.Errorf("AuthorizerId: got %s, want %s", got, want)
			}
			if got, want := canon(p["AuthorizationScopes"]), canon([]string{rt.Scope}); got != want {
				t.Errorf("AuthorizationScopes: got %s, want %s", got, want)
			}

			// Target is {"Fn::Join": ["", ["integrations/", {"Ref": id}]]}.
			var integrationID string
			if join, ok := p["Target"].(map[string]interface{})["Fn::Join"].([]interface{}); ok && len(join) == 2 {
				if parts, ok := join[1].([]interface{}); ok && len(parts) == 2 {
					if m, ok := parts[1].(map[string]interface{}); ok {
						integrationID, _ = m["Ref"].(string)
					}
				}
			}
			integration := mustResource(t, tmpl, integrationID, "AWS::ApiGatewayV2::Integration")
			ip := properties(integration)
			if got, want := canon(ip["IntegrationUri"]), canon(getAttArn(FunctionLogicalID(rt.Function))); got != want {
				t.Errorf("IntegrationUri: got %s, want %s", got, want)
			}
			if got := ip["PayloadFormatVersion"]; got != "2.0" {
				t.Errorf("PayloadFormatVersion: got %v, want 2.0", got)
			}
			if got := ip["IntegrationType"]; got != "AWS_PROXY" {
				t.Errorf("IntegrationType: got %v, want AWS_PROXY", got)
			}
		})
	}

	t.Run("no route exists that routes.All does not list", func(t *testing.T) {
		for key := range byKey {
			if _, ok := routes.ByKey(key); !ok {
				t.Errorf("got route %q, want only the routes of routes.All", key)
			}
		}
	})

	t.Run("the authorizer accepts the configured issuer and audiences", func(t *testing.T) {
		p := properties(resources(tmpl)[authorizerID])
		want := map[string]interface{}{"Issuer": testIssuer, "Audience": testAudience}
		if got, w := canon(p["JwtConfiguration"]), canon(want); got != w {
			t.Errorf("JwtConfiguration: got %s, want %s", got, w)
		}
		if got, want := canon(p["IdentitySource"]), `["$request.header.Authorization"]`; got != want {
			t.Errorf("IdentitySource: got %s, want %s", got, want)
		}
	})

	t.Run("CORS allows the configured origins and the methods of routes.All", func(t *testing.T) {
		_, api := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Api")
		cors, _ := properties(api)["CorsConfiguration"].(map[string]interface{})
		if got, want := stringList(cors["AllowOrigins"]), sorted(testCorsOrigins); !reflect.DeepEqual(got, want) {
			t.Errorf("AllowOrigins: got %v, want %v", got, want)
		}
		methods := map[string]bool{}
		for _, r := range routes.All {
			methods[r.Method] = true
		}
		var want []string
		for m := range methods {
			want = append(want, m)
		}
		if got := stringList(cors["AllowMethods"]); !reflect.DeepEqual(got, sorted(want)) {
			t.Errorf("AllowMethods: got %v, want %v", got, sorted(want))
		}
	})

	t.Run("the stage logs every request as JSON to a log group", func(t *testing.T) {
		_, stage := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Stage")
		p := properties(stage)
		if got := p["StageName"]; got != "$default" {
			t.Errorf("StageName: got %v, want $default", got)
		}
		logs, _ := p["AccessLogSettings"].(map[string]interface{})
		dest, _ := logs["DestinationArn"].(map[string]interface{})
		att, _ := dest["Fn::GetAtt"].([]interface{})
		if len(att) != 2 {
			t.Fatalf("DestinationArn: got %v, want the Arn of a log group", logs["DestinationArn"])
		}
		mustResource(t, tmpl, att[0].(string), "AWS::Logs::LogGroup")
		var format map[string]string
		if err := json.Unmarshal([]byte(fmt.Sprint(logs["Format"])), &format); err != nil {
			t.Fatalf("Format: got %v, want a JSON object (%v)", logs["Format"], err)
		}
		if got := format["requestId"]; got != "$context.requestId" {
			t.Errorf("Format requestId: got %q, want $context.requestId", got)
		}
	})
}

// statement is one IAM policy statement, normalized.
type statement struct {
	effect    string
	actions   []string
	resources []string // canonical JSON of each resource
}

func statementsOf(doc interface{}) []statement {
	d, _ := doc.(map[string]interface{})
	var out []statement
	for _, s := range d["Statement"].([]interface{}) {
		m := s.(map[string]interface{})
		st := statement{effect: fmt.Sprint(m["Effect"]), actions: stringList(m["Action"])}
		switch r := m["Resource"].(type) {
		case []interface{}:
			for _, x := range r {
				st.resources = append(st.resources, canon(x))
			}
		default:
			st.resources = []string{canon(r)}
		}
		out = append(out, st)
	}
	return out
}

// roleStatements collects the statements of every policy attached to the
// role, inline or not, and its managed policy ARNs.
func roleStatements(tmpl map[string]interface{}, roleID string) ([]statement, []interface{}) {
	role := resources(tmpl)[roleID]
	rp := properties(role)
	var out []statement
	if inline, ok := rp["Policies"].([]interface{}); ok {
		for _, p := range inline {
			out = append(out, statementsOf(p.(map[string]interface{})["PolicyDocument"])...)
		}
	}
	for _, p := range resourcesOfType(tmpl, "AWS::IAM::Policy") {
		pp := properties(p)
		for _, r := range pp["Roles"].([]interface{}) {
			if canon(r) == canon(ref(roleID)) {
				out = append(out, statementsOf(pp["PolicyDocument"])...)
			}
		}
	}
	managed, _ := rp["ManagedPolicyArns"].([]interface{})
	return out, managed
}

func TestLeastPrivilege(t *testing.T) {
	tmpl := configured(t).template
	secretID, _ := onlyResourceOfType(t, tmpl, "AWS::SecretsManager::Secret")
	tableArn := canon(getAttArn(TableLogicalID))
	indexArn := canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{getAttArn(TableLogicalID), "/index/" + eventstore.TypeIndex}}})
	secretArn := canon(ref(secretID))

	for _, fn := range routes.Functions {
		access := routes.Permissions[fn]
		p := properties(mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function"))
		att, _ := p["Role"].(map[string]interface{})["Fn::GetAtt"].([]interface{})
		if len(att) != 2 {
			t.Fatalf("%s Role: got %v, want the Arn of a role of the stack", fn, p["Role"])
		}
		roleID := att[0].(string)
		stmts, managed := roleStatements(tmpl, roleID)
		logsArn := canon(getAttArn(logGroupID(p["LoggingConfig"])))

		t.Run(fn+"'s role may do exactly its routes.Permissions on the table and the index", func(t *testing.T) {
			onTable, onIndex := []string{}, []string{}
			for _, s := range stmts {
				for _, a := range s.actions {
					if !strings.HasPrefix(a, "dynamodb:") {
						continue
					}
					for _, r := range s.resources {
						switch r {
						case tableArn:
							onTable = append(onTable, a)
						case indexArn:
							onIndex = append(onIndex, a)
						default:
							t.Errorf("got %s on %s, want DynamoDB actions on the table and its index only", a, r)
						}
					}
				}
			}
			if got, want := sorted(onTable), sorted(access.TableActions); !reflect.DeepEqual(got, want) {
				t.Errorf("table actions: got %v, want %v", got, want)
			}
			if got, want := sorted(onIndex), sorted(access.IndexActions); !reflect.DeepEqual(got, want) {
				t.Errorf("index actions: got %v, want %v", got, want)
			}
		})

		t.Run(fn+"'s role reads the page-token secret only if routes.Permissions says so", func(t *testing.T) {
			var got []string
			for _, s := range stmts {
				for _, a := range s.actions {
					if strings.HasPrefix(a, "secretsmanager:") {
						for _, r := range s.resources {
							got = append(got, a+" on "+r)
						}
					}
				}
			}
			want := []string{}
			if access.PageTokenKey {
				want = []string{"secretsmanager:GetSecretValue on " + secretArn}
			}
			if !reflect.DeepEqual(sorted(got), want) {
				t.Errorf("got %v, want %v", nonNil(got), want)
			}
		})

		t.Run(fn+"'s role has no other permission than logs to its log group and X-Ray", func(t *testing.T) {
			if len(managed) != 0 {
				t.Errorf("managed policies: got %v, want none", managed)
			}
			allowedOn := map[string]string{
				"logs:CreateLogStream":     logsArn,
				"logs:PutLogEvents":        logsArn,
				"xray:PutTraceSegments":    `"*"`,
				"xray:PutTelemetryRecords": `"*"`,
			}
			for _, s := range stmts {
				if s.effect != "Allow" {
					continue
				}
				for _, a := range s.actions {
					if strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "secretsmanager:") {
						continue // checked above
					}
					want, ok := allowedOn[a]
					if !ok {
						t.Errorf("got action %s, want none beyond routes.Permissions, logs and X-Ray", a)
						continue
					}
					for _, r := range s.resources {
						if r != want {
							t.Errorf("%s: got resource %s, want %s", a, r, want)
						}
					}
				}
			}
		})
	}

	t.Run("no IAM policy of the stack allows every action of a service", func(t *testing.T) {
		var all []statement
		for _, p := range resourcesOfType(tmpl, "AWS::IAM::Policy") {
			all = append(all, statementsOf(properties(p)["PolicyDocument"])...)
		}
		for id := range resourcesOfType(tmpl, "AWS::IAM::Role") {
			_, managed := roleStatements(tmpl, id)
			if inline, ok := properties(resources(tmpl)[id])["Policies"].([]interface{}); ok {
				for _, p := range inline {
					all = append(all, statementsOf(p.(map[string]interface{})["PolicyDocument"])...)
				}
			}
			for _, m := range managed {
				if strings.Contains(canon(m), "FullAccess") {
					t.Errorf("role %s: got managed policy %s, want no *FullAccess policy", id, canon(m))
				}
			}
		}
		if len(all) == 0 {
			t.Fatal("got no IAM statements, want the functions' policies")
		}
		for _, s := range all {
			for _, a := range s.actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("got Action %q, want named actions only", a)
				}
			}
		}
	})
}

// logGroupID returns the logical id a LoggingConfig's LogGroup refers to.
func logGroupID(loggingConfig interface{}) string {
	lc, _ := loggingConfig.(map[string]interface{})
	lg, _ := lc["LogGroup"].(map[string]interface{})
	id, _ := lg["Ref"].(string)
	return id
}

func TestDirectInvoke(t *testing.T) {
	tmpl := configured(t).template
	putEventArn := canon(getAttArn(FunctionLogicalID(routes.PutEvent)))

	byPrincipal := map[string][]resource{}
	for _, r := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
		p := properties(r)
		principal := fmt.Sprint(p["Principal"])
		byPrincipal[principal] = append(byPrincipal[principal], r)
	}

	for _, arn := range testInvokers {
		t.Run(arn+" may invoke put-event and nothing else", func(t *testing.T) {
			perms := byPrincipal[arn]
			if len(perms) != 1 {
				t.Fatalf("permissions for %s: got %d, want 1", arn, len(perms))
			}
			p := properties(perms[0])
			if got := canon(p["FunctionName"]); got != putEventArn {
				t.Errorf("FunctionName: got %s, want %s", got, putEventArn)
			}
			if got := p["Action"]; got != "lambda:InvokeFunction" {
				t.Errorf("Action: got %v, want lambda:InvokeFunction", got)
			}
		})
	}

	t.Run("every other invoke permission is API Gateway's, one per route, from this API", func(t *testing.T) {
		for principal, perms := range byPrincipal {
			if principal == "apigateway.amazonaws.com" {
				continue
			}
			if !contains(testInvokers, principal) {
				t.Errorf("got an invoke permission for %s (%d), want only the invoker roles and API Gateway", principal, len(perms))
			}
		}
		apigw := byPrincipal["apigateway.amazonaws.com"]
		if len(apigw) != len(routes.All) {
			t.Errorf("API Gateway permissions: got %d, want %d (one per route)", len(apigw), len(routes.All))
		}
		for _, r := range apigw {
			if src := canon(properties(r)["SourceArn"]); !strings.Contains(src, canon(ref(APILogicalID))) {
				t.Errorf("SourceArn: got %s, want one scoped to %s", src, APILogicalID)
			}
		}
	})

	t.Run("without invoker roles nobody but API Gateway may invoke a function", func(t *testing.T) {
		for _, r := range resourcesOfType(defaults(t).template, "AWS::Lambda::Permission") {
			if got := properties(r)["Principal"]; got != "apigateway.amazonaws.com" {
				t.Errorf("Principal: got %v, want apigateway.amazonaws.com", got)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestTable(t *testing.T) {
	tmpl := configured(t).template
	table := mustResource(t, tmpl, TableLogicalID, "AWS::DynamoDB::GlobalTable")
	p := properties(table)
	hash := func(name string) map[string]string {
		return map[string]string{"AttributeName": name, "KeyType": "HASH"}
	}
	rng := func(name string) map[string]string {
		return map[string]string{"AttributeName": name, "KeyType": "RANGE"}
	}
	replica := func(p map[string]interface{}) map[string]interface{} {
		rs, _ := p["Replicas"].([]interface{})
		if len(rs) != 1 {
			t.Fatalf("Replicas: got %d, want 1", len(rs))
		}
		return rs[0].(map[string]interface{})
	}

	for _, c := range []struct {
		name string
		got  interface{}
		want interface{}
	}{
		{"is keyed by eventstore.PartitionKey and eventstore.SortKey", p["KeySchema"],
			[]interface{}{hash(eventstore.PartitionKey), rng(eventstore.SortKey)}},
		{"declares its key attributes as strings", p["AttributeDefinitions"], []interface{}{
			map[string]string{"AttributeName": eventstore.PartitionKey, "AttributeType": "S"},
			map[string]string{"AttributeName": eventstore.SortKey, "AttributeType": "S"},
			map[string]string{"AttributeName": eventstore.TypeIndexKey, "AttributeType": "S"},
		}},
		{"has the type index of schema.go, projecting every attribute", p["GlobalSecondaryIndexes"], []interface{}{
			map[string]interface{}{
				"IndexName":  eventstore.TypeIndex,
				"KeySchema":  []interface{}{hash(eventstore.TypeIndexKey), rng(eventstore.SortKey)},
				"Projection": map[string]string{"ProjectionType": "ALL"},
			},
		}},
		{"expires items by eventstore.ExpiryAttribute", p["TimeToLiveSpecification"],
			map[string]interface{}{"AttributeName": eventstore.ExpiryAttribute, "Enabled": true}},
		{"is billed on demand", p["BillingMode"], "PAY_PER_REQUEST"},
		{"streams new and old images", p["StreamSpecification"], map[string]string{"StreamViewType": "NEW_AND_OLD_IMAGES"}},
		{"has point-in-time recovery", replica(p)["PointInTimeRecoverySpecification"], map[string]bool{"PointInTimeRecoveryEnabled": true}},
		{"has deletion protection by default", replica(p)["DeletionProtectionEnabled"], true},
		{"is retained when the stack is deleted", table["DeletionPolicy"], "Retain"},
		{"is retained when replaced", table["UpdateReplacePolicy"], "Retain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := canon(c.got), canon(c.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}

	t.Run("has no deletion protection when the deletionProtection context is false", func(t *testing.T) {
		p := properties(mustResource(t, fromContext(t).template, TableLogicalID, "AWS::DynamoDB::GlobalTable"))
		if got := replica(p)["DeletionProtectionEnabled"]; got != false {
			t.Errorf("got %v, want false", got)
		}
	})
}

func TestAlarms(t *testing.T) {
	tmpl := configured(t).template
	topicID, topic := onlyResourceOfType(t, tmpl, "AWS::SNS::Topic")
	alarms := resourcesOfType(tmpl, "AWS::CloudWatch::Alarm")

	// find returns the alarms on a metric with the dimension value.
	find := func(namespace, metric string, dimension interface{}) []resource {
		var out []resource
		for _, a := range alarms {
			p := properties(a)
			if p["Namespace"] != namespace || p["MetricName"] != metric {
				continue
			}
			for _, d := range p["Dimensions"].([]interface{}) {
				if canon(d.(map[string]interface{})["Value"]) == canon(dimension) {
					out = append(out, a)
				}
			}
		}
		return out
	}
	for _, fn := range routes.Functions {
		for _, metric := range []string{"Errors", "Throttles"} {
			t.Run(fn+" has an alarm on its "+metric, func(t *testing.T) {
				if got := len(find("AWS/Lambda", metric, ref(FunctionLogicalID(fn)))); got != 1 {
					t.Errorf("got %d alarms, want 1", got)
				}
			})
		}
	}
	t.Run("the API has an alarm on its 5xx answers", func(t *testing.T) {
		if got := len(find("AWS/ApiGateway", "5xx", ref(APILogicalID))); got != 1 {
			t.Errorf("got %d alarms, want 1", got)
		}
	})
	t.Run("the table has an alarm on read and write throttling of itself and its index", func(t *testing.T) {
		var got []string
		for _, a := range alarms {
			metrics, _ := properties(a)["Metrics"].([]interface{})
			for _, m := range metrics {
				stat, ok := m.(map[string]interface{})["MetricStat"].(map[string]interface{})
				if !ok {
					continue
				}
				metric := stat["Metric"].(map[string]interface{})
				if !strings.Contains(canon(metric["Dimensions"]), canon(ref(TableLogicalID))) {
					continue
				}
				index := strings.Contains(canon(metric["Dimensions"]), "GlobalSecondaryIndexName")
				got = append(got, fmt.Sprintf("%v index=%v", metric["MetricName"], index))
			}
		}
		want := []string{"ReadThrottleEvents index=false", "ReadThrottleEvents index=true", "WriteThrottleEvents index=false", "WriteThrottleEvents index=true"}
		if !reflect.DeepEqual(sorted(got), want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("every alarm notifies the alarm topic", func(t *testing.T) {
		for id, a := range alarms {
			if got, want := canon(properties(a)["AlarmActions"]), canon([]interface{}{ref(topicID)}); got != want {
				t.Errorf("%s AlarmActions: got %s, want %s", id, got, want)
			}
		}
	})
	t.Run("the topic is encrypted with a key CloudWatch may use", func(t *testing.T) {
		keyArn, _ := properties(topic)["KmsMasterKeyId"].(map[string]interface{})
		att, _ := keyArn["Fn::GetAtt"].([]interface{})
		if len(att) != 2 {
			t.Fatalf("KmsMasterKeyId: got %v, want the Arn of a key of the stack", properties(topic)["KmsMasterKeyId"])
		}
		key := mustResource(t, tmpl, att[0].(string), "AWS::KMS::Key")
		found := false
		for _, s := range statementsOfPrincipal(properties(key)["KeyPolicy"], "cloudwatch.amazonaws.com") {
			found = found || reflect.DeepEqual(s.actions, []string{"kms:Decrypt", "kms:GenerateDataKey*"})
		}
		if !found {
			t.Errorf("key policy: got %s, want cloudwatch.amazonaws.com allowed kms:Decrypt and kms:GenerateDataKey*", canon(properties(key)["KeyPolicy"]))
		}
		if got := properties(key)["EnableKeyRotation"]; got != true {
			t.Errorf("EnableKeyRotation: got %v, want true", got)
		}
	})
	t.Run("the topic takes CloudWatch's alarms over TLS only", func(t *testing.T) {
		_, policy := onlyResourceOfType(t, tmpl, "AWS::SNS::TopicPolicy")
		doc := properties(policy)["PolicyDocument"]
		if got := len(statementsOfPrincipal(doc, "cloudwatch.amazonaws.com")); got != 1 {
			t.Errorf("statements allowing cloudwatch.amazonaws.com: got %d, want 1", got)
		}
		if !strings.Contains(canon(doc), `"aws:SecureTransport":"false"`) {
			t.Errorf("got %s, want a Deny of publishing without TLS", canon(doc))
		}
	})
	t.Run("the alarm email is subscribed to the topic", func(t *testing.T) {
		_, sub := onlyResourceOfType(t, tmpl, "AWS::SNS::Subscription")
		p := properties(sub)
		if p["Protocol"] != "email" || p["Endpoint"] != testAlarmEmail {
			t.Errorf("got %v %v, want email %s", p["Protocol"], p["Endpoint"], testAlarmEmail)
		}
	})
	t.Run("without an alarm email nothing is subscribed", func(t *testing.T) {
		if got := len(resourcesOfType(defaults(t).template, "AWS::SNS::Subscription")); got != 0 {
			t.Errorf("got %d subscriptions, want 0", got)
		}
	})
}

// statementsOfPrincipal returns the Allow statements of a policy document
// whose principal is the service.
func statementsOfPrincipal(doc interface{}, service string) []statement {
	d, _ := doc.(map[string]interface{})
	var out []statement
	for _, s := range d["Statement"].([]interface{}) {
		m := s.(map[string]interface{})
		if m["Effect"] != "Allow" || canon(m["Principal"]) != canon(map[string]string{"Service": service}) {
			continue
		}
		out = append(out, statement{effect: "Allow", actions: stringList(m["Action"])})
	}
	return out
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
	t.Run("output ApiUrl is the API's https URL", func(t *testing.T) {
		o, _ := outputs["ApiUrl"].(map[string]interface{})
		got := canon(o["Value"])
		if !strings.Contains(got, `"https://"`) || !strings.Contains(got, canon(ref(APILogicalID))) {
			t.Errorf("got %s, want https://<EventsApi>.execute-api...", got)
		}
	})
}

func TestDefaults(t *testing.T) {
	tmpl := defaults(t).template

	t.Run("without issuer and audience the template asks for them as parameters", func(t *testing.T) {
		params, _ := tmpl["Parameters"].(map[string]interface{})
		for name, typ := range map[string]string{"JwtIssuer": "String", "JwtAudience": "CommaDelimitedList"} {
			p, _ := params[name].(map[string]interface{})
			if got := p["Type"]; got != typ {
				t.Errorf("parameter %s Type: got %v, want %s", name, got, typ)
			}
		}
		_, auth := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Authorizer")
		want := map[string]interface{}{"Audience": ref("JwtAudience"), "Issuer": ref("JwtIssuer")}
		if got, w := canon(properties(auth)["JwtConfiguration"]), canon(want); got != w {
			t.Errorf("JwtConfiguration: got %s, want %s", got, w)
		}
	})
	t.Run("events are kept 90 days", func(t *testing.T) {
		for _, fn := range routes.Functions {
			p := properties(mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function"))
			vars := p["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})
			if got := vars["RETENTION_DAYS"]; got != "90" {
				t.Errorf("%s RETENTION_DAYS: got %v, want 90", fn, got)
			}
		}
	})
	t.Run("logs are kept 30 days", func(t *testing.T) {
		for id, lg := range resourcesOfType(tmpl, "AWS::Logs::LogGroup") {
			if got := properties(lg)["RetentionInDays"]; got != float64(30) {
				t.Errorf("%s RetentionInDays: got %v, want 30", id, got)
			}
		}
	})
	t.Run("the table has deletion protection", func(t *testing.T) {
		p := properties(mustResource(t, tmpl, TableLogicalID, "AWS::DynamoDB::GlobalTable"))
		if got := canon(p["Replicas"]); !strings.Contains(got, `"DeletionProtectionEnabled":true`) {
			t.Errorf("Replicas: got %s, want DeletionProtectionEnabled true", got)
		}
	})
	t.Run("there is no CORS configuration", func(t *testing.T) {
		_, api := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Api")
		if got, ok := properties(api)["CorsConfiguration"]; ok {
			t.Errorf("got %s, want none", canon(got))
		}
	})
}

func TestContext(t *testing.T) {
	tmpl := fromContext(t).template

	t.Run("the authorizer takes issuer and audience from the context", func(t *testing.T) {
		_, auth := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Authorizer")
		want := map[string]interface{}{"Audience": []string{"ctx-a", "ctx-b"}, "Issuer": testContext["jwtIssuer"]}
		if got, w := canon(properties(auth)["JwtConfiguration"]), canon(want); got != w {
			t.Errorf("JwtConfiguration: got %s, want %s", got, w)
		}
		if params, _ := tmpl["Parameters"].(map[string]interface{}); params["JwtIssuer"] != nil || params["JwtAudience"] != nil {
			t.Errorf("got parameters %v, want no JwtIssuer or JwtAudience parameter", params)
		}
	})
	t.Run("retentionDays 0 keeps events forever", func(t *testing.T) {
		p := properties(mustResource(t, tmpl, FunctionLogicalID(routes.PutEvent), "AWS::Lambda::Function"))
		vars := p["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})
		if got := vars["RETENTION_DAYS"]; got != "0" {
			t.Errorf("RETENTION_DAYS: got %v, want 0", got)
		}
	})
	t.Run("logRetentionDays sets the log groups' retention", func(t *testing.T) {
		for id, lg := range resourcesOfType(tmpl, "AWS::Logs::LogGroup") {
			if got := properties(lg)["RetentionInDays"]; got != float64(7) {
				t.Errorf("%s RetentionInDays: got %v, want 7", id, got)
			}
		}
	})
	t.Run("putEventInvokerRoleArns grants put-event to that role", func(t *testing.T) {
		var got []string
		for _, r := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
			if principal := fmt.Sprint(properties(r)["Principal"]); principal != "apigateway.amazonaws.com" {
				got = append(got, principal)
			}
		}
		if want := []string{testInvokers[0]}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("corsOrigins sets the allowed origins", func(t *testing.T) {
		_, api := onlyResourceOfType(t, tmpl, "AWS::ApiGatewayV2::Api")
		cors, _ := properties(api)["CorsConfiguration"].(map[string]interface{})
		if got, want := stringList(cors["AllowOrigins"]), []string{"https://a.example.com", "https://b.example.com"}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}
