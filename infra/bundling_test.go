package main

import (
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetlog/device-events/infra/bootstrap"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestBundling(t *testing.T) {
	f := configured(t)

	for _, fn := range routes.Functions {
		t.Run(fn+"'s code is a Linux arm64 executable built at synth", func(t *testing.T) {
			meta, _ := resources(f.template)[FunctionLogicalID(fn)]["Metadata"].(map[string]interface{})
			path, _ := meta["aws:asset:path"].(string)
			bin, err := elf.Open(filepath.Join(f.outdir, path, "bootstrap"))
			if err != nil {
				t.Fatalf("got %v, want an ELF bootstrap in the asset", err)
			}
			defer bin.Close()
			if bin.Machine != elf.EM_AARCH64 || bin.OSABI != elf.ELFOSABI_NONE {
				t.Errorf("got %v %v, want EM_AARCH64 ELFOSABI_NONE", bin.Machine, bin.OSABI)
			}
		})
	}

	t.Run("without Go, the CDK runs the same go build in a Go image", func(t *testing.T) {
		o := bundlingOptions("/src", routes.PatchEvent)
		want := append([]string{"go"}, bootstrap.Args(routes.PatchEvent, "/asset-output/bootstrap")...)
		if got := derefAll(o.Command); !reflect.DeepEqual(got, want) {
			t.Errorf("Command: got %q, want %q", got, want)
		}
		for _, kv := range bootstrap.Env(bootstrap.DeployArch) {
			k, v, _ := strings.Cut(kv, "=")
			if got := (*o.Environment)[k]; got == nil || *got != v {
				t.Errorf("Environment %s: got %v, want %s", k, got, v)
			}
		}
	})

	t.Run("without a go command the local bundler leaves the build to the CDK's container", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		out := t.TempDir()
		b := &localBundler{root: t.TempDir(), fn: routes.PutEvent}
		if got := b.TryBundle(jsii.String(out), nil); got == nil || *got {
			t.Errorf("got %v, want false", got)
		}
	})

	t.Run("a function that does not build fails the bundling with go's message", func(t *testing.T) {
		defer func() {
			err, _ := recover().(error)
			if err == nil || !strings.Contains(err.Error(), "go build "+routes.PutEvent) || !strings.Contains(err.Error(), "go.mod") {
				t.Errorf("got panic %v, want the go build error (no go.mod)", err)
			}
		}()
		b := &localBundler{root: t.TempDir(), fn: routes.PutEvent}
		b.TryBundle(jsii.String(t.TempDir()), nil)
	})

	t.Run("a checkout without build/ synthesizes, and an edited function alone gets a new asset hash", func(t *testing.T) {
		src := copyModule(t)
		if _, err := os.Stat(filepath.Join(src, "build")); !os.IsNotExist(err) {
			t.Fatalf("build/ in the copy: got %v, want none", err)
		}
		edited := filepath.Join(src, "functions", routes.PutEvent, "main.go")
		appendFile(t, edited, "\nfunc init() { println(\"edited\") }\n")

		copied, err := synthesize(filepath.Join(fixtureRoot, "cdk.out.edited"), nil, func(awscdk.App) (*StackProps, error) {
			p := configuredProps()
			p.SourceDir = src
			return p, nil
		})
		if err != nil {
			t.Fatalf("synth of the copy: %v", err)
		}
		for _, fn := range routes.Functions {
			before, after := codeKey(t, f.template, fn), codeKey(t, copied.template, fn)
			switch {
			case fn == routes.PutEvent && after == before:
				t.Errorf("%s S3Key: got %s as before the edit, want a new one", fn, after)
			case fn != routes.PutEvent && after != before:
				t.Errorf("%s S3Key: got %s, want %s as from the original folder", fn, after, before)
			}
		}
	})
}

// codeKey is the S3 key of a function's code in the template, the asset's
// hash.
func codeKey(t *testing.T, tmpl map[string]interface{}, fn string) string {
	t.Helper()
	code, _ := properties(mustResource(t, tmpl, FunctionLogicalID(fn), "AWS::Lambda::Function"))["Code"].(map[string]interface{})
	key, _ := code["S3Key"].(string)
	if key == "" {
		t.Fatalf("%s Code: got %s, want an S3Key", fn, canon(code))
	}
	return key
}

// copyModule copies the module's sources, as a fresh clone has them, into
// a temporary folder: no build outputs, no node_modules, no .git.
func copyModule(t *testing.T) string {
	t.Helper()
	root, err := bootstrap.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	skip := map[string]bool{".git": true, "node_modules": true, "build": true, ".local": true}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && (skip[d.Name()] || strings.HasPrefix(d.Name(), "cdk.out")):
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying the module: %v", err)
	}
	return dst
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func derefAll(p *[]*string) []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(*p))
	for _, s := range *p {
		out = append(out, *s)
	}
	return out
}
