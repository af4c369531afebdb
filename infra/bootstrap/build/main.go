// Command build writes the bootstrap of every function under one folder,
// <out>/<function>/bootstrap, with the flags of package bootstrap:
//
//	go run ./infra/bootstrap/build [-arch arm64] [-o build/lambda]
//
// `make build` runs it for the binaries the benchmarks measure. The CDK
// stack does not need it: it builds its own at synth.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetlog/device-events/infra/bootstrap"
)

func main() {
	arch := flag.String("arch", bootstrap.DeployArch, "GOARCH of the bootstraps")
	out := flag.String("o", "build/lambda", "folder to write <function>/bootstrap under, relative to the module root")
	flag.Parse()
	if err := run(*arch, *out); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(arch, out string) error {
	root, err := bootstrap.ModuleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	return bootstrap.BuildAll(context.Background(), root, arch, out)
}
