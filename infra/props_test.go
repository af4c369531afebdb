package main

import (
	"os"
	"path/filepath"
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
			"assetDir":                "/tmp/assets",
			"corsOrigins":             "https://a.example.com, https://b.example.com",
			"putEventInvokerRoleArns": testInvokers[0] + "," + testInvokers[1],
			"retentionDays":           "0",
			"logRetentionDays":        "365",
			"deletionProtection":      "false",
		}).Node())
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		zero, off := 0, false
		want := &StackProps{
			AlarmEmail:              "ops@example.com",
			AssetDir:                "/tmp/assets",
			CorsOrigins:             []string{"https://a.example.com", "https://b.example.com"},
			PutEventInvokerRoleArns: testInvokers,
			RetentionDays:           &zero,
			LogRetention:            awslogs.RetentionDays_ONE_YEAR,
			DeletionProtection:      &off,
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
		}).Node())
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		if p.RetentionDays == nil || *p.RetentionDays != 45 {
			t.Errorf("RetentionDays: got %v, want 45", p.RetentionDays)
		}
		if p.DeletionProtection == nil || !*p.DeletionProtection {
			t.Errorf("DeletionProtection: got %v, want true", p.DeletionProtection)
		}
		if want := []string{testInvokers[0]}; !reflect.DeepEqual(p.PutEventInvokerRoleArns, want) {
			t.Errorf("PutEventInvokerRoleArns: got %v, want %v", p.PutEventInvokerRoleArns, want)
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
		{"retentionDays", "-1"},
		{"retentionDays", "ninety"},
		{"logRetentionDays", "8"},
		{"deletionProtection", "maybe"},
		{"putEventInvokerRoleArns", "arn:aws:iam::123456789012:user/someone"},
		{"putEventInvokerRoleArns", "get-greengrass-configurations"},
		{"corsOrigins", "dashboard.example.com"},
		{"alarmEmail", "ops"},
	} {
		t.Run("rejects "+c.key+"="+c.value+" naming the key", func(t *testing.T) {
			_, err := PropsFromContext(appWithContext(map[string]interface{}{c.key: c.value}).Node())
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Errorf("got %v, want an error naming %s", err, c.key)
			}
		})
	}
}

func TestAssets(t *testing.T) {
	t.Run("the default asset folder is build/lambda at the repository root, wherever the app runs from", func(t *testing.T) {
		got := ResolveAssetDir("")
		want := filepath.Join(filepath.Dir(infraDir()), "build", "lambda")
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		if _, err := os.Stat(filepath.Join(infraDir(), "cdk.json")); err != nil {
			t.Errorf("infraDir %s: got %v, want the folder holding cdk.json", infraDir(), err)
		}
	})
	t.Run("an absolute asset folder is used as given", func(t *testing.T) {
		if got := ResolveAssetDir(testAssetDir); got != testAssetDir {
			t.Errorf("got %s, want %s", got, testAssetDir)
		}
	})
	t.Run("a folder with every bootstrap passes the check", func(t *testing.T) {
		if err := CheckAssets(testAssetDir); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
	t.Run("missing binaries are named, with the command that builds them", func(t *testing.T) {
		err := CheckAssets(filepath.Join(fixtureRoot, "nothing-here"))
		if err == nil {
			t.Fatal("got nil, want an error")
		}
		for _, want := range append([]string{"make build"}, routes.Functions...) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got %q, want it to mention %q", err, want)
			}
		}
	})
}

func TestNames(t *testing.T) {
	for fn, want := range map[string]string{
		routes.PutEvent:        "PutEventFunction",
		routes.ListEvents:      "ListEventsFunction",
		routes.AggregateEvents: "AggregateEventsFunction",
		routes.PatchEvent:      "PatchEventFunction",
		routes.DeleteEvent:     "DeleteEventFunction",
	} {
		t.Run(fn+" has the logical id "+want, func(t *testing.T) {
			if got := FunctionLogicalID(fn); got != want {
				t.Errorf("got %s, want %s", got, want)
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
		NewDeviceEventsStack(awscdk.NewApp(nil), "Invalid", &StackProps{AssetDir: testAssetDir, RetentionDays: &bad})
	})
}
