package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

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
			map[string]string{"AttributeName": eventstore.DeviceAlarmIndexKey, "AttributeType": "S"},
			map[string]string{"AttributeName": eventstore.FleetAlarmIndexKey, "AttributeType": "S"},
		}},
		{"has the indexes of schema.go, projecting every attribute", withoutCaps(p["GlobalSecondaryIndexes"]), []interface{}{
			map[string]interface{}{
				"IndexName":  eventstore.TypeIndex,
				"KeySchema":  []interface{}{hash(eventstore.TypeIndexKey), rng(eventstore.SortKey)},
				"Projection": map[string]string{"ProjectionType": "ALL"},
			},
			map[string]interface{}{
				"IndexName":  eventstore.DeviceAlarmIndex,
				"KeySchema":  []interface{}{hash(eventstore.DeviceAlarmIndexKey), rng(eventstore.SortKey)},
				"Projection": map[string]string{"ProjectionType": "ALL"},
			},
			map[string]interface{}{
				"IndexName":  eventstore.FleetAlarmIndex,
				"KeySchema":  []interface{}{hash(eventstore.FleetAlarmIndexKey), rng(eventstore.SortKey)},
				"Projection": map[string]string{"ProjectionType": "ALL"},
			},
		}},
		{"expires items by eventstore.ExpiryAttribute", p["TimeToLiveSpecification"],
			map[string]interface{}{"AttributeName": eventstore.ExpiryAttribute, "Enabled": true}},
		{"is billed on demand", p["BillingMode"], "PAY_PER_REQUEST"},
		{"has no stream, as nothing consumes one", p["StreamSpecification"], nil},
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

	t.Run("caps the on-demand throughput of the table and each index at the props' maxima", func(t *testing.T) {
		want := []string{"index read 4000", "index read 4000", "index read 4000", "index write 1500", "index write 1500", "index write 1500", "table read 4000", "table write 1500"}
		if got := throughputCaps(t, tmpl); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("has no deletion protection when the deletionProtection context is false", func(t *testing.T) {
		p := properties(mustResource(t, fromContext(t).template, TableLogicalID, "AWS::DynamoDB::GlobalTable"))
		if got := replica(p)["DeletionProtectionEnabled"]; got != false {
			t.Errorf("got %v, want false", got)
		}
	})
}

// throughputCaps lists the on-demand maxima of the events table and its
// index as "table|index read|write N", sorted.
func throughputCaps(t *testing.T, tmpl map[string]interface{}) []string {
	t.Helper()
	p := properties(mustResource(t, tmpl, TableLogicalID, "AWS::DynamoDB::GlobalTable"))
	var out []string
	add := func(what string, settings map[string]interface{}) {
		if v, ok := settings["ReadOnDemandThroughputSettings"].(map[string]interface{}); ok {
			out = append(out, fmt.Sprintf("%s read %v", what, v["MaxReadRequestUnits"]))
		}
		if v, ok := settings["WriteOnDemandThroughputSettings"].(map[string]interface{}); ok {
			out = append(out, fmt.Sprintf("%s write %v", what, v["MaxWriteRequestUnits"]))
		}
	}
	// Writes are capped on the global table and its indexes, reads on
	// each replica and its indexes.
	add("table", p)
	indexes := func(v interface{}) {
		list, _ := v.([]interface{})
		for _, i := range list {
			add("index", i.(map[string]interface{}))
		}
	}
	indexes(p["GlobalSecondaryIndexes"])
	replicas, _ := p["Replicas"].([]interface{})
	for _, r := range replicas {
		add("table", r.(map[string]interface{}))
		indexes(r.(map[string]interface{})["GlobalSecondaryIndexes"])
	}
	sort.Strings(out)
	return out
}

// withoutCaps is a list of index definitions without their throughput
// settings, which throughputCaps checks.
func withoutCaps(indexes interface{}) []interface{} {
	list, _ := indexes.([]interface{})
	out := make([]interface{}, 0, len(list))
	for _, i := range list {
		shape := map[string]interface{}{}
		for k, v := range i.(map[string]interface{}) {
			if !strings.HasSuffix(k, "OnDemandThroughputSettings") {
				shape[k] = v
			}
		}
		out = append(out, shape)
	}
	return out
}
