package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/routes"
)

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
			// An authorizer's errors are its 401s: no alarm on them.
			want := 1
			if metric == "Errors" && routes.IsAuthorizer(fn) {
				want = 0
			}
			t.Run(fmt.Sprintf("%s has %d alarm on its %s", fn, want, metric), func(t *testing.T) {
				if got := len(find("AWS/Lambda", metric, ref(FunctionLogicalID(fn)))); got != want {
					t.Errorf("got %d alarms, want %d", got, want)
				}
			})
		}
	}
	for _, api := range []string{APILogicalID, KeysAPILogicalID} {
		t.Run(api+" has an alarm on its 5xx answers", func(t *testing.T) {
			if got := len(find("AWS/ApiGateway", "5xx", ref(api))); got != 1 {
				t.Errorf("got %d alarms, want 1", got)
			}
		})
	}
	t.Run("the table has an alarm on read and write throttling of itself and each index", func(t *testing.T) {
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
				index := ""
				for _, gsi := range eventstore.CreateTableInput("t").GlobalSecondaryIndexes {
					if strings.Contains(canon(metric["Dimensions"]), `"`+*gsi.IndexName+`"`) {
						index = *gsi.IndexName
					}
				}
				got = append(got, fmt.Sprintf("%v %v", metric["MetricName"], index))
			}
		}
		var want []string
		for _, m := range []string{"ReadThrottleEvents", "WriteThrottleEvents"} {
			want = append(want, m+" ")
			for _, gsi := range eventstore.CreateTableInput("t").GlobalSecondaryIndexes {
				want = append(want, m+" "+*gsi.IndexName)
			}
		}
		want = sorted(want)
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
