package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/infra/bootstrap"
)

// goImage is the image the CDK builds a bootstrap in on a machine with
// Docker but without Go.
const goImage = "public.ecr.aws/docker/library/golang:1.26"

// functionCode is the code of function fn: its bootstrap for Lambda's
// arm64, built at synth from the module rooted at root, so that a synth
// deploys the source as it is and needs no earlier build step.
//
// The asset's hash is the hash of the built binary (OUTPUT), which is
// reproducible (bootstrap.Flags): it changes exactly when the code does,
// whatever folder the module is in. The source folder itself is neither
// fingerprinted nor copied, so it needs no exclude list.
func functionCode(root, fn string) awslambda.Code {
	return awslambda.Code_FromAsset(jsii.String(root), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling:      bundlingOptions(root, fn),
	})
}

// bundlingOptions build fn's bootstrap with this machine's Go
// (localBundler), else with the same go command in goImage.
func bundlingOptions(root, fn string) *awscdk.BundlingOptions {
	env := map[string]*string{
		// The CDK runs the container as this machine's user, who has no
		// home there for Go's caches.
		"GOCACHE": jsii.String("/tmp/go-build"),
		"GOPATH":  jsii.String("/tmp/go"),
	}
	for _, kv := range bootstrap.Env(bootstrap.DeployArch) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = jsii.String(v)
	}
	out := *awscdk.AssetStaging_BUNDLING_OUTPUT_DIR() + "/bootstrap"
	return &awscdk.BundlingOptions{
		Image:       awscdk.DockerImage_FromRegistry(jsii.String(goImage)),
		Command:     jsii.Strings(append([]string{"go"}, bootstrap.Args(fn, out)...)...),
		Environment: &env,
		Local:       &localBundler{root: root, fn: fn},
	}
}

// localBundler builds a function's bootstrap with this machine's go
// command. It implements awscdk.ILocalBundling, which the CDK calls back
// through jsii before it would start a container.
type localBundler struct {
	root, fn string
}

// TryBundle writes the bootstrap into outputDir. It answers false when
// there is no go command, so that the CDK builds in goImage instead. A
// build that fails panics: jsii hands the panic to the CDK as the bundling's
// error, which fails the synth with the compiler's message.
func (b *localBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	if _, err := exec.LookPath("go"); err != nil {
		return jsii.Bool(false)
	}
	out := filepath.Join(*outputDir, "bootstrap")
	if err := bootstrap.Build(context.Background(), b.root, b.fn, bootstrap.DeployArch, out); err != nil {
		panic(err)
	}
	return jsii.Bool(true)
}
