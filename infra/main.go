// Command infra is the CDK app of the device events service.
//
// Run it through the CDK CLI from this folder (npx aws-cdk@2 synth|deploy,
// see cdk.json), or directly with `CDK_OUTDIR=../cdk.out go run .`. It
// needs Go and Node only: the synthesis builds the functions' bootstraps
// itself (bundling.go). Either way the stack is checked with the cdk-nag
// AwsSolutions pack, and an unsuppressed finding fails the synthesis.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/fleetlog/device-events/infra/bootstrap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()

	ctx, err := AppContext()
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})

	props, err := PropsFromContext(app.Node())
	if err != nil {
		return err
	}
	if props.SourceDir, err = bootstrap.ModuleRoot(); err != nil {
		return err
	}
	NewDeviceEventsStack(app, StackID, props)
	ApplyNagChecks(app)

	assembly, err := synth(app)
	if err != nil {
		return err
	}
	return synthesisErrors(assembly)
}

// synth synthesizes the app. A failure inside the CDK, such as a function
// that does not compile, reaches Go as a panic of the jsii runtime: it
// becomes an error here, so that the message is not buried in a goroutine
// dump.
func synth(app awscdk.App) (assembly cxapi.CloudAssembly, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesis failed: %v", r)
		}
	}()
	return app.Synth(nil), nil
}

// ApplyNagChecks adds the cdk-nag AwsSolutions rules to every stack of
// scope. Their findings become error annotations at synthesis.
func ApplyNagChecks(scope awscdk.App) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// errorMetadata is the type of an error annotation in the cloud assembly
// (ArtifactMetadataEntryType ERROR).
const errorMetadata = "aws:cdk:error"

// synthesisErrors turns the error annotations of the assembly (cdk-nag's
// findings among them) into an error, as `cdk synth` does, so that
// `go run .` fails the same way. It reads the stacks' metadata: their
// Messages() are of a deprecated type.
func synthesisErrors(assembly cxapi.CloudAssembly) error {
	var errs []string
	for _, stack := range *assembly.Stacks() {
		for path, entries := range *stack.Metadata() {
			for _, e := range *entries {
				if *e.Type == errorMetadata {
					errs = append(errs, fmt.Sprintf("%s: %v", path, e.Data))
				}
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("synthesis found %d error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return nil
}

// AppContext is the context the app starts with: the "context" of
// infra/cdk.json (the feature flags, so that `go run .` and the tests
// synthesize what `cdk synth` does), plus what the CDK CLI would set:
// asset metadata, which SAM CLI needs to find each function's code, and
// path metadata. Context given to the CLI with -c still wins.
func AppContext() (map[string]interface{}, error) {
	ctx := map[string]interface{}{}
	path := filepath.Join(infraDir(), "cdk.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for k, v := range cfg.Context {
		ctx[k] = v
	}
	ctx["aws:cdk:enable-asset-metadata"] = true
	ctx["aws:cdk:enable-path-metadata"] = true
	ctx["aws:cdk:disable-stack-trace"] = true
	return ctx, nil
}

// infraDir is the folder of this package's source, which holds cdk.json.
// It falls back to the working directory when the binary was built with
// -trimpath.
func infraDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err == nil {
			return dir
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	if _, err := os.Stat(filepath.Join(wd, "infra", "cdk.json")); err == nil {
		return filepath.Join(wd, "infra")
	}
	return wd
}
