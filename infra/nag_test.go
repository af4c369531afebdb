package main

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
)

// reviewedSuppressions are the cdk-nag rules the stack may suppress, each
// with the resources' reason in stack.go. A new suppression fails the test
// until it is reviewed and listed here.
var reviewedSuppressions = map[string]bool{
	"AwsSolutions-SMG4": true, // the page-token key is rotated by redeploying
	"AwsSolutions-IAM5": true, // X-Ray actions have no resource-level permissions
	// The registry API (registry.go).
	"AwsSolutions-APIG2": true, // the functions validate requests, in the contract's shape
	"AwsSolutions-APIG3": true, // no WAF on an API reachable only privately or signed
	"AwsSolutions-APIG4": true, // the private API is authorized by the network
	"AwsSolutions-COG4":  true, // the registry's clients send no token
	"AwsSolutions-IAM4":  true, // API Gateway's account logging role takes AWS's policy for it
}

// registrySuppressions are the rules suppressed on the registry API's
// resources, by resource type, in each mode: the IAM API is authorized
// (APIG4 holds).
var registrySuppressions = map[RegistryMode]map[string][]string{
	RegistryPrivate: {
		"AWS::ApiGateway::RestApi": {"AwsSolutions-APIG2"},
		"AWS::ApiGateway::Stage":   {"AwsSolutions-APIG3"},
		"AWS::ApiGateway::Method":  {"AwsSolutions-APIG4", "AwsSolutions-COG4"},
		"AWS::IAM::Role":           {"AwsSolutions-IAM4"},
	},
	RegistryIAM: {
		"AWS::ApiGateway::RestApi": {"AwsSolutions-APIG2"},
		"AWS::ApiGateway::Stage":   {"AwsSolutions-APIG3"},
		"AWS::ApiGateway::Method":  {"AwsSolutions-COG4"},
		"AWS::IAM::Role":           {"AwsSolutions-IAM4"},
	},
}

func describe(msgs *[]*cxapi.SynthesisMessage) []string {
	var out []string
	for _, m := range *msgs {
		out = append(out, *m.Id+": "+canon(m.Entry.Data))
	}
	return out
}

func TestNag(t *testing.T) {
	aws := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, c := range []struct {
		name    string
		fixture func(*testing.T) *fixture
	}{
		{"configured", configured},
		{"default", defaults},
		{"context-configured", fromContext},
	} {
		t.Run("the AwsSolutions pack finds no unsuppressed error in the "+c.name+" stack", func(t *testing.T) {
			found := assertions.Annotations_FromStack(c.fixture(t).stack).FindError(jsii.String("*"), aws)
			if len(*found) != 0 {
				t.Errorf("got %d errors, want 0:\n  %s", len(*found), strings.Join(describe(found), "\n  "))
			}
		})
		t.Run("the AwsSolutions pack finds no unsuppressed warning in the "+c.name+" stack", func(t *testing.T) {
			found := assertions.Annotations_FromStack(c.fixture(t).stack).FindWarning(jsii.String("*"), aws)
			if len(*found) != 0 {
				t.Errorf("got %d warnings, want 0:\n  %s", len(*found), strings.Join(describe(found), "\n  "))
			}
		})
	}

	t.Run("every suppression is a reviewed one and gives its reason", func(t *testing.T) {
		seen := map[string]bool{}
		for id, r := range resources(configured(t).template) {
			meta, _ := r["Metadata"].(map[string]interface{})
			nag, _ := meta["cdk_nag"].(map[string]interface{})
			rules, _ := nag["rules_to_suppress"].([]interface{})
			for _, rule := range rules {
				m := rule.(map[string]interface{})
				rid, _ := m["id"].(string)
				reason, _ := m["reason"].(string)
				seen[rid] = true
				if !reviewedSuppressions[rid] {
					t.Errorf("%s: got suppression of %s, want only reviewed ones %v", id, rid, reviewedSuppressions)
				}
				if len(reason) < 40 {
					t.Errorf("%s: %s reason: got %q, want a sentence saying why", id, rid, reason)
				}
				if rid == "AwsSolutions-IAM5" {
					if got, want := canon(m["applies_to"]), `["Resource::*"]`; got != want {
						t.Errorf("%s: IAM5 applies_to: got %s, want %s (the X-Ray statement only)", id, got, want)
					}
				}
				if rid == "AwsSolutions-IAM4" {
					if got, want := stringList(m["applies_to"]), []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}; !reflect.DeepEqual(got, want) {
						t.Errorf("%s: IAM4 applies_to: got %s, want %s (API Gateway's logging policy only)", id, got, want)
					}
				}
			}
		}
		want := map[string]bool{}
		for k := range reviewedSuppressions {
			want[k] = true
		}
		if !reflect.DeepEqual(seen, want) {
			t.Errorf("suppressed rules: got %v, want %v (drop a listed one that is no longer needed)", seen, want)
		}
	})

	for _, c := range []struct {
		mode    RegistryMode
		fixture func(*testing.T) *fixture
	}{
		{RegistryPrivate, configured},
		{RegistryIAM, fromContext},
	} {
		t.Run("the "+string(c.mode)+" registry API suppresses exactly its reviewed rules, each on its own resources", func(t *testing.T) {
			got := map[string][]string{}
			for id, r := range resources(c.fixture(t).template) {
				meta, _ := r["Metadata"].(map[string]interface{})
				nag, _ := meta["cdk_nag"].(map[string]interface{})
				rules, _ := nag["rules_to_suppress"].([]interface{})
				for _, rule := range rules {
					rid, _ := rule.(map[string]interface{})["id"].(string)
					if rid == "AwsSolutions-SMG4" || rid == "AwsSolutions-IAM5" {
						continue // the stack's own, checked above
					}
					typ := fmt.Sprint(r["Type"])
					if !contains(got[typ], rid) {
						got[typ] = append(got[typ], rid)
					}
					if typ != "AWS::IAM::Role" && !strings.HasPrefix(id, RegistryAPILogicalID) {
						t.Errorf("%s: got %s suppressed, want registry API resources only", id, rid)
					}
				}
			}
			for typ := range got {
				got[typ] = sorted(got[typ])
			}
			if want := registrySuppressions[c.mode]; !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}

	t.Run("an unsuppressed finding fails the synthesis as main runs it", func(t *testing.T) {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(fixtureRoot, "cdk.out.nag"))})
		stack := awscdk.NewStack(app, jsii.String("NonCompliant"), nil)
		awssns.NewTopic(stack, jsii.String("PlainTopic"), nil) // no TLS enforcement: AwsSolutions-SNS3
		ApplyNagChecks(app)
		err := synthesisErrors(app.Synth(nil))
		if err == nil || !strings.Contains(err.Error(), "AwsSolutions-SNS3") {
			t.Errorf("got %v, want an error naming AwsSolutions-SNS3", err)
		}
	})
}
