// Package bootstrap builds the functions' Lambda bootstraps, the one way
// every caller builds them: the CDK stack's bundling at synth (arm64, what
// it deploys), `make build` (the same, for the benchmarks), and the local
// stack, which runs them for this machine's architecture. The flags are
// decided here and nowhere else.
package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/fleetlog/device-events/pkg/routes"
)

// Flags are the go build flags of a bootstrap: no RPC shim (the provided
// runtimes speak the Runtime API), no local paths, stripped, and no build
// id, so that the same source always gives the same bytes and the CDK's
// asset hash changes exactly when the code does.
var Flags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// DeployArch is the architecture the stack deploys (Graviton).
const DeployArch = "arm64"

// HostArch is this machine's architecture, for bootstraps run locally.
var HostArch = runtime.GOARCH

// Package is the import path of a function's main package.
func Package(fn string) string { return "./functions/" + fn }

// Args are the arguments of the go command that builds the bootstrap of
// function fn into out, run from the module root. The CDK stack gives them
// to the Go container it bundles with on machines without Go.
func Args(fn, out string) []string {
	args := append([]string{"build"}, Flags...)
	return append(args, "-o", out, Package(fn))
}

// Env is the environment, added to the caller's, of a build for
// linux/goarch: static binaries, cross-compiled without a C toolchain and
// independent of the runtime image's C library.
func Env(goarch string) []string {
	return []string{"GOOS=linux", "GOARCH=" + goarch, "CGO_ENABLED=0"}
}

// Build builds the bootstrap of function fn for linux/goarch into out, from
// the module rooted at root.
func Build(ctx context.Context, root, fn, goarch, out string) error {
	cmd := exec.CommandContext(ctx, "go", Args(fn, out)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), Env(goarch)...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %v\n%s", fn, goarch, err, msg.Bytes())
	}
	return nil
}

// BuildAll builds every function of routes.Functions into dir/<fn>/bootstrap.
func BuildAll(ctx context.Context, root, goarch, dir string) error {
	for _, fn := range routes.Functions {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			return err
		}
		if err := Build(ctx, root, fn, goarch, Path(dir, fn)); err != nil {
			return err
		}
	}
	return nil
}

// Path is where BuildAll puts fn's bootstrap under dir.
func Path(dir, fn string) string { return filepath.Join(dir, fn, "bootstrap") }

// ModuleRoot finds the folder holding this module's go.mod, from the
// working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/fleetlog/device-events\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bootstrap: not inside the device-events module")
		}
		dir = parent
	}
}
