package ecosystem

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// The generators, pinned, run as their READMEs tell users to run them.
// Their runtimes are pinned in testdata/clients/go.mod.
var generators = []struct {
	name string // the generated package
	env  string // the prefix of its URL variables in the clients' tests
	args func(doc, dir string) []string
}{
	{"oapicodegen", "OAPI_CODEGEN", func(doc, dir string) []string {
		// types and client: the default also generates a server, which is
		// not what a client needs. No other option is set.
		return []string{"run", "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2",
			"-generate", "types,client", "-package", "oapicodegen", "-o", filepath.Join(dir, "client.go"), doc}
	}},
	{"ogen", "OGEN", func(doc, dir string) []string {
		return []string{"run", "github.com/ogen-go/ogen/cmd/ogen@v1.24.0",
			"-target", dir, "-package", "ogen", "-clean", doc}
	}},
}

// TestClientsGeneratedFromTheDocumentsCallEveryRoute generates a client of
// each API with each generator, with default options, into a module of its
// own (testdata/clients), and runs that module's tests against a local
// stack: each client calls every operation of its document and checks
// every status. Each client reaches the stack through a recorder, which
// holds every exchange against the document and shows that every
// operation was called.
func TestClientsGeneratedFromTheDocumentsCallEveryRoute(t *testing.T) {
	st := stacktest.New(t)
	mod := t.TempDir()
	if err := os.CopyFS(mod, os.DirFS("testdata/clients")); err != nil {
		t.Fatal(err)
	}
	apis := []struct {
		name string
		spec *openapi.Spec
		url  string
	}{
		{"events", openapi.Events, st.URL},
		{"registry", openapi.Registry, st.RegistryURL},
	}
	env := []string{"EVENTS_TOKEN=" + st.Token}
	recorders := map[string]*recorder{}
	// The key API serves the events document's routes to device keys: each
	// generated events client calls one of them with a key, through a
	// recorder of its own, which checks the exchange (not that every
	// operation was called).
	keyRecorders := map[string]*recorder{}
	for _, g := range generators {
		r := newRecorder(t, openapi.For(routes.Keys), st.KeysURL)
		keyRecorders[g.name+"'s events client on the key API"] = r
		env = append(env, g.env+"_KEYS_URL="+r.URL)
	}
	for _, api := range apis {
		doc := filepath.Join(mod, api.name+".json")
		if err := os.WriteFile(doc, api.spec.JSON(), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, g := range generators {
			who := g.name + "'s " + api.name + " client"
			dir := filepath.Join(mod, api.name, g.name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := goCommand(t.Context(), mod, nil, g.args(doc, dir)...); err != nil {
				t.Fatalf("%s does not generate: %v\n%s", who, err, out)
			}
			if !hasGoFiles(t, dir) {
				t.Fatalf("%s: the generator wrote no Go file into %s", who, dir)
			}
			r := newRecorder(t, api.spec, api.url)
			recorders[who] = r
			env = append(env, g.env+"_"+strings.ToUpper(api.name)+"_URL="+r.URL)
		}
	}

	out, err := goCommand(t.Context(), mod, env, "test", "-trimpath", "-count=1", "-v", "./...")
	if err != nil {
		var log strings.Builder
		for who, r := range recorders {
			log.WriteString(who + " exchanged:\n" + r.log())
		}
		t.Fatalf("the generated clients' tests fail: %v\n%s\n%s", err, out, log.String())
	}
	for who, r := range recorders {
		r.checkContract(t, who)
		if missed := r.missedOperations(); len(missed) > 0 {
			t.Errorf("%s never called %s", who, strings.Join(missed, ", "))
		}
	}
	for who, r := range keyRecorders {
		r.checkContract(t, who)
		if len(r.exchanges) == 0 {
			t.Errorf("%s called nothing", who)
		}
	}
}

// goCommand runs the go command in dir, with the module proxy as the only
// source of modules and without the workspace of the repository around it.
func goCommand(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func hasGoFiles(t *testing.T, dir string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		found = found || strings.HasSuffix(path, ".go")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
