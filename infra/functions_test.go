package main

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

// pageTokenSecretID is the logical id of the page-token key's secret: the
// stack's secret other than the pepper's.
func pageTokenSecretID(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	var ids []string
	for id := range resourcesOfType(tmpl, "AWS::SecretsManager::Secret") {
		if id != KeyPepperLogicalID {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("secrets besides the pepper's: got %v, want the page-token key's", ids)
	}
	return ids[0]
}

func TestFunctions(t *testing.T) {
	tmpl := configured(t).template
	secretID := pageTokenSecretID(t, tmpl)
	for _, fn := range routes.Functions {
		deployment := routes.Deployments[fn]
		p := properties(mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function"))

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

		t.Run(fn+" has the timeout and memory of routes.Deployments, JSON logs in its own log group and active tracing", func(t *testing.T) {
			logging, _ := p["LoggingConfig"].(map[string]interface{})
			for _, c := range []struct {
				field string
				got   interface{}
				want  interface{}
			}{
				{"Timeout", p["Timeout"], deployment.Timeout.Seconds()},
				{"MemorySize", p["MemorySize"], float64(deployment.MemoryMB)},
				{"TracingConfig", canon(p["TracingConfig"]), `{"Mode":"Active"}`},
				{"LoggingConfig.LogFormat", logging["LogFormat"], "JSON"},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
				}
			}
			logGroup := mustResource(t, tmpl, logGroupID(p["LoggingConfig"]), "AWS::Logs::LogGroup")
			if got := properties(logGroup)["RetentionInDays"]; got != float64(14) {
				t.Errorf("log group RetentionInDays: got %v, want 14", got)
			}
		})

		t.Run(fn+"'s environment is exactly routes.Env, with the stack's table, secret and APIs", func(t *testing.T) {
			// routes.Env with placeholders, which the template must hold as
			// references to the stack's resources.
			placeholders := map[string]interface{}{
				"<table>":    ref(TableLogicalID),
				"<secret>":   ref(secretID),
				"<pepper>":   ref(KeyPepperLogicalID),
				"<events>":   ref(APILogicalID),
				"<registry>": ref(RegistryAPILogicalID),
				"<keys>":     ref(KeysAPILogicalID),
			}
			want := map[string]interface{}{}
			for k, v := range routes.Env(fn, routes.Settings{
				Table: "<table>", RetentionDays: testRetentionDays, PageTokenSecretARN: "<secret>", KeyPepperSecretARN: "<pepper>",
				APIIDs: map[routes.API]string{routes.Events: "<events>", routes.Registry: "<registry>", routes.Keys: "<keys>"},
			}) {
				want[k] = withRefs(v, placeholders)
			}
			if got, w := canon(environment(p)), canon(want); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})

		t.Run(fn+" reserves the concurrency the props give it, if any", func(t *testing.T) {
			got, set := p["ReservedConcurrentExecutions"]
			n, want := testReserved[fn]
			switch {
			case want && got != float64(n):
				t.Errorf("got %v, want %d", got, n)
			case !want && set:
				t.Errorf("got %v, want none", got)
			}
		})
	}

	t.Run("without reservedConcurrency no function reserves concurrency", func(t *testing.T) {
		for id, r := range resourcesOfType(defaults(t).template, "AWS::Lambda::Function") {
			if got, ok := properties(r)["ReservedConcurrentExecutions"]; ok {
				t.Errorf("%s: got %v, want none", id, got)
			}
		}
	})

	for name, id := range map[string]string{"page-token secret": secretID, "key pepper": KeyPepperLogicalID} {
		t.Run("the "+name+" is 64 lowercase hex characters", func(t *testing.T) {
			gen, _ := properties(resources(tmpl)[id])["GenerateSecretString"].(map[string]interface{})
			want := `{"ExcludeCharacters":"ghijklmnopqrstuvwxyz","ExcludePunctuation":true,"ExcludeUppercase":true,"IncludeSpace":false,"PasswordLength":64}`
			if got := canon(gen); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	t.Run("the key pepper is kept when the stack goes, as the table is", func(t *testing.T) {
		r := mustResource(t, tmpl, KeyPepperLogicalID, "AWS::SecretsManager::Secret")
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("DeletionPolicy %v, UpdateReplacePolicy %v; want Retain", r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
	})
}

var placeholder = regexp.MustCompile(`<[a-z]+>`)

// withRefs is s as the template holds it when s is built from the values
// of placeholders: the value alone, or an Fn::Join of s's parts.
func withRefs(s string, placeholders map[string]interface{}) interface{} {
	var parts []interface{}
	last := 0
	for _, loc := range placeholder.FindAllStringIndex(s, -1) {
		r, ok := placeholders[s[loc[0]:loc[1]]]
		if !ok {
			continue
		}
		if loc[0] > last {
			parts = append(parts, s[last:loc[0]])
		}
		parts = append(parts, r)
		last = loc[1]
	}
	if last < len(s) {
		parts = append(parts, s[last:])
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return map[string]interface{}{"Fn::Join": []interface{}{"", parts}}
}

func TestAPIIDs(t *testing.T) {
	for _, c := range []struct {
		name    string
		fixture func(*testing.T) *fixture
		want    map[string]string // API to the logical id of its API
	}{
		{"private registry API", configured, map[string]string{"events": APILogicalID, "registry": RegistryAPILogicalID, "keys": KeysAPILogicalID}},
		{"IAM registry API", fromContext, map[string]string{"events": APILogicalID, "registry": RegistryAPILogicalID, "keys": KeysAPILogicalID}},
		{"no registry API", defaults, map[string]string{"events": APILogicalID, "keys": KeysAPILogicalID}},
	} {
		tmpl := c.fixture(t).template
		for _, fn := range routes.Functions {
			t.Run("with the "+c.name+" "+fn+"'s API_IDS names exactly the deployed APIs", func(t *testing.T) {
				p := properties(mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function"))
				got, err := apiIDRefs(environment(p)[routes.EnvAPIIDs])
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("got %v, want %v", got, c.want)
				}
			})
		}
	}
}

// apiIDRefs reads a template's API_IDS, an Fn::Join of "<api>=" and
// {"Ref": <logical id>} separated by commas, into the logical id of each
// API.
func apiIDRefs(v interface{}) (map[string]string, error) {
	join, _ := v.(map[string]interface{})["Fn::Join"].([]interface{})
	if len(join) != 2 || join[0] != "" {
		return nil, fmt.Errorf("got %s, want an Fn::Join of <api>= and refs", canon(v))
	}
	parts, _ := join[1].([]interface{})
	out := map[string]string{}
	for i := 0; i+1 < len(parts); i += 2 {
		name, _ := parts[i].(string)
		r, _ := parts[i+1].(map[string]interface{})
		id, _ := r["Ref"].(string)
		name = strings.TrimSuffix(strings.TrimPrefix(name, ","), "=")
		if id == "" || name == "" {
			return nil, fmt.Errorf("part %d: got %s, want <api>= and a Ref", i, canon(parts[i:i+2]))
		}
		out[name] = id
	}
	if len(parts)%2 != 0 {
		return nil, fmt.Errorf("got %s, want pairs of <api>= and a Ref", canon(parts))
	}
	return out, nil
}

// environment returns a function's environment variables.
func environment(fn map[string]interface{}) map[string]interface{} {
	env, _ := fn["Environment"].(map[string]interface{})
	vars, _ := env["Variables"].(map[string]interface{})
	return vars
}

func TestNames(t *testing.T) {
	for fn, want := range map[string]string{
		routes.PutEvent:        "PutEventFunction",
		routes.ListEvents:      "ListEventsFunction",
		routes.AggregateEvents: "AggregateEventsFunction",
		routes.PatchEvent:      "PatchEventFunction",
		routes.DeleteEvent:     "DeleteEventFunction",
		routes.APIKeys:         "ApiKeysFunction",
		routes.AuthorizeKey:    "AuthorizeKeyFunction",
	} {
		t.Run(fn+" has the logical id "+want, func(t *testing.T) {
			if got := FunctionLogicalID(fn); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
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
	secretID := pageTokenSecretID(t, tmpl)
	tableArn := canon(getAttArn(TableLogicalID))
	indexArn := func(index string) string {
		return canon(map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{getAttArn(TableLogicalID), "/index/" + index}}})
	}
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

		t.Run(fn+"'s role may do exactly its routes.Permissions on the table and on each of its indexes", func(t *testing.T) {
			onTable := []string{}
			onIndex := map[string][]string{} // by index ARN
			indexes := map[string]string{}   // index ARN to name
			for _, index := range access.Indexes {
				indexes[indexArn(index)] = index
			}
			for _, s := range stmts {
				for _, a := range s.actions {
					if !strings.HasPrefix(a, "dynamodb:") {
						continue
					}
					for _, r := range s.resources {
						switch _, isIndex := indexes[r]; {
						case r == tableArn:
							onTable = append(onTable, a)
						case isIndex:
							onIndex[r] = append(onIndex[r], a)
						default:
							t.Errorf("got %s on %s, want DynamoDB actions on the table and on %v only", a, r, nonNil(access.Indexes))
						}
					}
				}
			}
			if got, want := sorted(onTable), sorted(access.TableActions); !reflect.DeepEqual(got, want) {
				t.Errorf("table actions: got %v, want %v", got, want)
			}
			for arn, index := range indexes {
				if got, want := sorted(onIndex[arn]), sorted(access.IndexActions); !reflect.DeepEqual(got, want) {
					t.Errorf("actions on index %s: got %v, want %v", index, got, want)
				}
			}
		})

		t.Run(fn+"'s role reads the page-token secret and the key pepper only if routes.Permissions says so", func(t *testing.T) {
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
				want = append(want, "secretsmanager:GetSecretValue on "+secretArn)
			}
			if access.KeyPepper {
				want = append(want, "secretsmanager:GetSecretValue on "+canon(ref(KeyPepperLogicalID)))
			}
			if !reflect.DeepEqual(sorted(got), sorted(want)) {
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

	t.Run("list-events may query the type index and both alarm indexes", func(t *testing.T) {
		p := properties(mustResource(t, tmpl, FunctionLogicalID(routes.ListEvents), "AWS::Lambda::Function"))
		att, _ := p["Role"].(map[string]interface{})["Fn::GetAtt"].([]interface{})
		if len(att) != 2 {
			t.Fatalf("Role: got %v, want the Arn of a role of the stack", p["Role"])
		}
		stmts, _ := roleStatements(tmpl, att[0].(string))
		for _, index := range []string{eventstore.TypeIndex, eventstore.DeviceAlarmIndex, eventstore.FleetAlarmIndex} {
			found := false
			for _, s := range stmts {
				if s.effect == "Allow" && contains(s.actions, "dynamodb:Query") && contains(s.resources, indexArn(index)) {
					found = true
				}
			}
			if !found {
				t.Errorf("got no dynamodb:Query on %s, want one", index)
			}
		}
	})

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

func TestInvokePermissions(t *testing.T) {
	for _, c := range []struct {
		name     string
		fixture  func(*testing.T) *fixture
		invokers []string
		registry bool
	}{
		{"private registry API and two invokers", configured, testInvokers, true},
		{"IAM registry API and one invoker", fromContext, testInvokers[:1], true},
		{"defaults", defaults, nil, false},
	} {
		tmpl := c.fixture(t).template
		perms := resourcesOfType(tmpl, "AWS::Lambda::Permission")
		functionOf := map[string]string{} // logical id to function name
		for _, fn := range routes.Functions {
			functionOf[canon(getAttArn(FunctionLogicalID(fn)))] = fn
		}
		var registryStage string
		if c.registry {
			for id, r := range resourcesOfType(tmpl, "AWS::ApiGateway::Stage") {
				if canon(properties(r)["RestApiId"]) == canon(ref(RegistryAPILogicalID)) {
					registryStage = id
				}
			}
		}

		t.Run("with the "+c.name+" each invoke permission is API Gateway's for one route of this stack's APIs or its key authorizer, or an invoker's for put-event", func(t *testing.T) {
			byRoute := map[string]int{}
			byInvoker := map[string]int{}
			authorizers := 0
			for id, r := range perms {
				p := properties(r)
				fn, ok := functionOf[canon(p["FunctionName"])]
				if !ok {
					t.Errorf("%s: FunctionName got %s, want a function of the stack", id, canon(p["FunctionName"]))
					continue
				}
				if got := p["Action"]; got != "lambda:InvokeFunction" {
					t.Errorf("%s: Action got %v, want lambda:InvokeFunction", id, got)
				}
				principal := fmt.Sprint(p["Principal"])
				if principal != "apigateway.amazonaws.com" {
					if !contains(c.invokers, principal) || fn != routes.PutEvent {
						t.Errorf("%s: got %s allowed to invoke %s, want API Gateway, or an invoker role (%v) for put-event", id, principal, fn, c.invokers)
					}
					if _, ok := p["SourceArn"]; ok {
						t.Errorf("%s: got a SourceArn for a role, want none", id)
					}
					byInvoker[principal]++
					continue
				}
				route, err := routeOfSourceArn(tmpl, p["SourceArn"], fn, registryStage)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				if route.Op == "" {
					authorizers++ // the key authorizer's own
					continue
				}
				byRoute[permissionScope(route)]++
			}
			// An HTTP API route's permission is scoped to its path (any
			// method), so the routes of one path and function have one
			// each, alike.
			want := map[string]int{}
			for _, api := range routes.APIs {
				if api == routes.Registry && !c.registry {
					continue
				}
				for _, r := range routes.ForAPI(api) {
					want[permissionScope(r)]++
				}
			}
			if !reflect.DeepEqual(byRoute, want) {
				t.Errorf("API Gateway permissions by API, function and scope: got %v, want one per route %v", byRoute, want)
			}
			for _, arn := range c.invokers {
				if n := byInvoker[arn]; n != 1 {
					t.Errorf("%s: got %d permissions, want 1 (on put-event)", arn, n)
				}
			}
			if authorizers != 1 {
				t.Errorf("got %d permissions of the key authorizer, want 1", authorizers)
			}
		})
	}
}

// routeOfSourceArn is the route of one of the stack's APIs that function
// fn serves whose invocations an API Gateway permission's SourceArn
// matches: arn:<partition>:execute-api:<region>:<account>:<api>/ then, for
// an HTTP API, */*<route path> (any stage and method, as
// HttpLambdaIntegration scopes it), and for the registry's REST API,
// <its stage>/<method><path with * for each parameter>. For the key
// API's authorizer, authorize-key, it is authorizers/<its authorizer>, and
// the route returned has the key API and no operation.
func routeOfSourceArn(tmpl map[string]interface{}, arn interface{}, fn, registryStage string) (routes.Route, error) {
	join, _ := arn.(map[string]interface{})["Fn::Join"].([]interface{})
	if len(join) != 2 {
		return routes.Route{}, fmt.Errorf("SourceArn: got %s, want an Fn::Join", canon(arn))
	}
	parts, _ := join[1].([]interface{})
	prefix := []interface{}{"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":"}
	if len(parts) < len(prefix)+2 || canon(parts[:len(prefix)]) != canon(prefix) {
		return routes.Route{}, fmt.Errorf("SourceArn: got %s, want an execute-api ARN of this account and region", canon(arn))
	}
	var rest strings.Builder
	for _, part := range parts[len(prefix)+1:] {
		switch part := part.(type) {
		case string:
			rest.WriteString(part)
		default:
			m, _ := part.(map[string]interface{})
			if id, _ := m["Ref"].(string); id != "" && resources(tmpl)[id]["Type"] == "AWS::ApiGatewayV2::Authorizer" {
				rest.WriteString("<authorizer>")
				continue
			}
			if registryStage == "" || canon(part) != canon(ref(registryStage)) {
				return routes.Route{}, fmt.Errorf("SourceArn: got %s in the path, want only the registry API's stage", canon(part))
			}
			rest.WriteString("<stage>")
		}
	}
	var api routes.API
	switch canon(parts[len(prefix)]) {
	case canon(ref(APILogicalID)):
		api = routes.Events
	case canon(ref(KeysAPILogicalID)):
		api = routes.Keys
	case canon(ref(RegistryAPILogicalID)):
		api = routes.Registry
	default:
		return routes.Route{}, fmt.Errorf("SourceArn: got API %s, want %s, %s or %s", canon(parts[len(prefix)]), APILogicalID, KeysAPILogicalID, RegistryAPILogicalID)
	}
	if routes.Authorizers[api] == fn {
		if rest.String() != "/authorizers/<authorizer>" {
			return routes.Route{}, fmt.Errorf("SourceArn: got %s for the authorizer %s, want /authorizers/<its authorizer>", rest.String(), fn)
		}
		return routes.Route{API: api, Function: fn}, nil
	}
	for _, r := range routes.ForAPI(api) {
		if r.Function != fn {
			continue
		}
		want := "/*/*" + r.Path
		if api == routes.Registry {
			want = "/<stage>/" + r.Method + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "*")
		}
		if rest.String() == want {
			return r, nil
		}
	}
	return routes.Route{}, fmt.Errorf("SourceArn: got %s%s, want the stage, method and path of a %s route of %s", canon(parts[len(prefix)]), rest.String(), api, fn)
}

// permissionScope is what an API Gateway permission of route r is scoped
// to: its API, its function and, for an HTTP API, its path alone.
func permissionScope(r routes.Route) string {
	if r.API == routes.Registry {
		return string(r.API) + " " + r.Function + " " + r.Key()
	}
	return string(r.API) + " " + r.Function + " " + r.Path
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
