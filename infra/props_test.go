package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/fleetlog/device-events/pkg/routes"
)

func appWithContext(ctx map[string]interface{}) awscdk.App {
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
}

func TestPropsFromContext(t *testing.T) {
	t.Run("reads every documented key", func(t *testing.T) {
		p, err := PropsFromContext(appWithContext(map[string]interface{}{
			"alarmEmail":              "ops@example.com",
			"corsOrigins":             "https://a.example.com, https://b.example.com",
			"putEventInvokerRoleArns": testInvokers[0] + "," + testInvokers[1],
			"retentionDays":           "0",
			"logRetentionDays":        "365",
			"deletionProtection":      "false",
			"throttleRateLimit":       "12.5",
			"throttleBurstLimit":      "40",
			"reservedConcurrency":     "put-event=50, list-events=20",
			"maxReadRequestUnits":     "3000",
			"maxWriteRequestUnits":    "1000",
			"registryApi":             "private",
			"registryVpcEndpointIds":  testVPCEndpoints[0] + ", " + testVPCEndpoints[1],
			"samLocal":                "true",
		}).Node())
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		zero, off := 0, false
		want := &StackProps{
			AlarmEmail:              "ops@example.com",
			CorsOrigins:             []string{"https://a.example.com", "https://b.example.com"},
			PutEventInvokerRoleArns: testInvokers,
			RetentionDays:           &zero,
			LogRetention:            awslogs.RetentionDays_ONE_YEAR,
			DeletionProtection:      &off,
			ThrottleRateLimit:       12.5,
			ThrottleBurstLimit:      40,
			ReservedConcurrency:     map[string]int{routes.PutEvent: 50, routes.ListEvents: 20},
			MaxReadRequestUnits:     3000,
			MaxWriteRequestUnits:    1000,
			RegistryAPI:             RegistryPrivate,
			RegistryVPCEndpointIDs:  testVPCEndpoints,
			SAMLocal:                true,
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("got %+v, want %+v", p, want)
		}
	})

	t.Run("accepts JSON types from cdk.json", func(t *testing.T) {
		p, err := PropsFromContext(appWithContext(map[string]interface{}{
			"retentionDays":           float64(45),
			"deletionProtection":      true,
			"putEventInvokerRoleArns": []interface{}{testInvokers[0]},
			"throttleRateLimit":       float64(100),
			"reservedConcurrency":     map[string]interface{}{"put-event": float64(7)},
			"registryApi":             "private",
			"registryVpcEndpointIds":  []interface{}{testVPCEndpoints[1]},
			"samLocal":                false,
		}).Node())
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		for _, c := range []struct {
			field     string
			got, want interface{}
		}{
			{"RetentionDays", *p.RetentionDays, 45},
			{"DeletionProtection", *p.DeletionProtection, true},
			{"PutEventInvokerRoleArns", p.PutEventInvokerRoleArns, []string{testInvokers[0]}},
			{"ThrottleRateLimit", p.ThrottleRateLimit, 100.0},
			{"ReservedConcurrency", p.ReservedConcurrency, map[string]int{routes.PutEvent: 7}},
			{"RegistryAPI", p.RegistryAPI, RegistryPrivate},
			{"RegistryVPCEndpointIDs", p.RegistryVPCEndpointIDs, []string{testVPCEndpoints[1]}},
			{"SAMLocal", p.SAMLocal, false},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
			}
		}
	})

	t.Run("leaves unset keys to the stack's defaults", func(t *testing.T) {
		p, err := PropsFromContext(appWithContext(map[string]interface{}{}).Node())
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		if !reflect.DeepEqual(p, &StackProps{}) {
			t.Errorf("got %+v, want zero props", p)
		}
	})

	for _, c := range []struct {
		key, value string
	}{
		{"registryApi", "public"},
		{"registryApi", "PRIVATE"},
		{"registryVpcEndpointIds", "endpoint-1"},
		{"retentionDays", "-1"},
		{"retentionDays", "ninety"},
		{"logRetentionDays", "8"},
		{"deletionProtection", "maybe"},
		{"putEventInvokerRoleArns", "arn:aws:iam::123456789012:user/someone"},
		{"putEventInvokerRoleArns", "get-greengrass-configurations"},
		{"corsOrigins", "dashboard.example.com"},
		{"alarmEmail", "ops"},
		{"throttleRateLimit", "-1"},
		{"throttleRateLimit", "fast"},
		{"throttleBurstLimit", "-1"},
		{"throttleBurstLimit", "1.5"},
		{"reservedConcurrency", "put-event"},
		{"reservedConcurrency", "put-event=0"},
		{"reservedConcurrency", "put-event=many"},
		{"reservedConcurrency", "get-event=5"},
		{"maxReadRequestUnits", "-1"},
		{"maxWriteRequestUnits", "lots"},
		{"samLocal", "maybe"},
	} {
		t.Run("rejects "+c.key+"="+c.value+" naming the key", func(t *testing.T) {
			_, err := PropsFromContext(appWithContext(map[string]interface{}{c.key: c.value}).Node())
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Errorf("got %v, want an error naming %s", err, c.key)
			}
		})
	}
}

func TestRegistryProps(t *testing.T) {
	for _, c := range []struct {
		name    string
		context map[string]interface{}
		// wantKey is the key the error names; empty: no error.
		wantKey string
	}{
		{"accepts a private API with its VPC endpoints", map[string]interface{}{"registryApi": "private", "registryVpcEndpointIds": testVPCEndpoints[0]}, ""},
		{"accepts an IAM API without VPC endpoints", map[string]interface{}{"registryApi": "iam"}, ""},
		{"refuses a private API without VPC endpoints", map[string]interface{}{"registryApi": "private"}, "registryVpcEndpointIds"},
		{"refuses VPC endpoints with an IAM API", map[string]interface{}{"registryApi": "iam", "registryVpcEndpointIds": testVPCEndpoints[0]}, "registryVpcEndpointIds"},
		{"refuses VPC endpoints without a registry API", map[string]interface{}{"registryVpcEndpointIds": testVPCEndpoints[0]}, "registryVpcEndpointIds"},
		{"refuses a public API", map[string]interface{}{"registryApi": "public"}, "registryApi"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := PropsFromContext(appWithContext(c.context).Node())
			switch {
			case c.wantKey == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case c.wantKey != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantKey+":")):
				t.Errorf("got %v, want an error naming %s", err, c.wantKey)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Run("the stack refuses invalid props with a panic naming the prop", func(t *testing.T) {
		defer func() {
			r := recover()
			err, _ := r.(error)
			if err == nil || !strings.Contains(err.Error(), "retentionDays") {
				t.Errorf("got panic %v, want an error naming retentionDays", r)
			}
		}()
		bad := -5
		NewDeviceEventsStack(awscdk.NewApp(nil), "Invalid", &StackProps{RetentionDays: &bad})
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
		_, auth := authorizerOf(t, tmpl, APILogicalID)
		want := map[string]interface{}{"Audience": ref("JwtAudience"), "Issuer": ref("JwtIssuer")}
		if got, w := canon(auth["JwtConfiguration"]), canon(want); got != w {
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
		for id, api := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Api") {
			if got, ok := properties(api)["CorsConfiguration"]; ok {
				t.Errorf("%s: got %s, want none", id, canon(got))
			}
		}
	})
	t.Run("the stage is throttled at the default rate and burst", func(t *testing.T) {
		want := fmt.Sprintf(`{"ThrottlingBurstLimit":%d,"ThrottlingRateLimit":%d}`, DefaultThrottleBurstLimit, DefaultThrottleRateLimit)
		if got := canon(stageThrottling(t, tmpl)); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("the table and its index have no throughput cap", func(t *testing.T) {
		if got := throughputCaps(t, tmpl); len(got) != 0 {
			t.Errorf("got %v, want none", got)
		}
	})
}

func TestContext(t *testing.T) {
	tmpl := fromContext(t).template

	t.Run("the authorizer takes issuer and audience from the context", func(t *testing.T) {
		_, auth := authorizerOf(t, tmpl, APILogicalID)
		want := map[string]interface{}{"Audience": []string{"ctx-a", "ctx-b"}, "Issuer": testContext["jwtIssuer"]}
		if got, w := canon(auth["JwtConfiguration"]), canon(want); got != w {
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
		api := mustResource(t, tmpl, APILogicalID, "AWS::ApiGatewayV2::Api")
		cors, _ := properties(api)["CorsConfiguration"].(map[string]interface{})
		if got, want := stringList(cors["AllowOrigins"]), []string{"https://a.example.com", "https://b.example.com"}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("throttleRateLimit and throttleBurstLimit throttle the stage", func(t *testing.T) {
		if got, want := canon(stageThrottling(t, tmpl)), `{"ThrottlingBurstLimit":34,"ThrottlingRateLimit":12}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("reservedConcurrency reserves concurrency for the functions it names only", func(t *testing.T) {
		got := map[string]interface{}{}
		for _, fn := range routes.Functions {
			p := properties(mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function"))
			if n, ok := p["ReservedConcurrentExecutions"]; ok {
				got[fn] = n
			}
		}
		if want := map[string]interface{}{routes.DeleteEvent: float64(3)}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("maxReadRequestUnits and maxWriteRequestUnits cap the table and each index", func(t *testing.T) {
		want := []string{"index read 100", "index read 100", "index read 100", "index write 200", "index write 200", "index write 200", "table read 100", "table write 200"}
		if got := throughputCaps(t, tmpl); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}
