package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
)

// samConfig is the subset of samconfig.toml the tests read: for each
// [section], its key = "string" or key = ["string", ...] values.
type samConfig map[string]map[string][]string

var (
	tomlSection = regexp.MustCompile(`^\[([^\]]+)\]$`)
	tomlValue   = regexp.MustCompile(`^([A-Za-z_]+)\s*=\s*(.+)$`)
	tomlString  = regexp.MustCompile(`"([^"]*)"`)
)

// readSAMConfig parses samconfig.toml as far as this project writes it
// (no library: the module should not grow a TOML dependency for a test).
func readSAMConfig(t *testing.T, path string) (samConfig, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("got %v, want a readable %s", err, path)
	}
	cfg := samConfig{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := tomlSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			cfg[section] = map[string][]string{}
			continue
		}
		if m := tomlValue.FindStringSubmatch(line); m != nil && section != "" {
			for _, s := range tomlString.FindAllStringSubmatch(m[2], -1) {
				cfg[section][m[1]] = append(cfg[section][m[1]], s[1])
			}
		}
	}
	return cfg, string(b)
}

// samEnvFile is the --env-vars file of samconfig.toml, relative to the
// repository root.
const samEnvFile = "infra/sam/env.json"

func TestSAM(t *testing.T) {
	f := samLocal(t)
	root := filepath.Dir(infraDir())
	cfg, text := readSAMConfig(t, filepath.Join(root, "samconfig.toml"))
	templateFile := "build/sam/" + StackID + ".template.json"

	for _, section := range []string{"default.local_invoke.parameters", "default.local_start_api.parameters", "default.local_start_lambda.parameters"} {
		t.Run(section+" reads the SAM template with "+samEnvFile, func(t *testing.T) {
			s, ok := cfg[section]
			if !ok {
				t.Fatalf("got no [%s], want one", section)
			}
			if got, want := s["template_file"], []string{templateFile}; !reflect.DeepEqual(got, want) {
				t.Errorf("template_file: got %v, want %v", got, want)
			}
			if got, want := s["env_vars"], []string{samEnvFile}; !reflect.DeepEqual(got, want) {
				t.Errorf("env_vars: got %v, want %v", got, want)
			}
		})
	}

	t.Run("make sam synthesizes with samLocal where samconfig.toml looks", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatal(err)
		}
		makefile := string(b)
		if want := `(?m)^SAM_OUT\s*:=\s*` + regexp.QuoteMeta(filepath.Dir(templateFile)) + `$`; !regexp.MustCompile(want).MatchString(makefile) {
			t.Errorf("Makefile: got no line matching %s, want one", want)
		}
		if !regexp.MustCompile(`(?m)^sam:(.*\n\t.*)*samLocal`).MatchString(makefile) {
			t.Errorf("Makefile: got no sam target giving samLocal, want one")
		}
	})

	templatePath := filepath.Join(f.outdir, StackID+".template.json")
	b, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatalf("got %v, want the synthesized template %s", err, templatePath)
	}
	var tmpl map[string]interface{}
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("template: %v", err)
	}
	functions := resourcesOfType(tmpl, "AWS::Lambda::Function")

	t.Run("the functions samconfig.toml's examples invoke exist", func(t *testing.T) {
		invoked := regexp.MustCompile(`sam local invoke (\w+)`).FindAllStringSubmatch(text, -1)
		if len(invoked) == 0 {
			t.Fatal("got no `sam local invoke <Function>` example, want one")
		}
		for _, m := range invoked {
			if _, ok := functions[m[1]]; !ok {
				t.Errorf("got example invoking %s, want a function of the template", m[1])
			}
		}
	})

	for _, fn := range routes.Functions {
		t.Run(fn+" declares an empty DynamoDB endpoint, no page-token secret and any API, else routes.Env", func(t *testing.T) {
			want := map[string]interface{}{}
			for k, v := range routes.Env(fn, routes.Settings{Table: "<table>", RetentionDays: DefaultRetentionDays}) {
				want[k] = v
			}
			want[routes.EnvTable] = ref(TableLogicalID)
			want[envDynamoDBEndpoint] = ""
			want[routes.EnvAPIIDs] = ""
			if got, w := canon(environment(properties(functions[FunctionLogicalID(fn)]))), canon(want); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})
	}

	var env map[string]map[string]string
	b, err = os.ReadFile(filepath.Join(root, samEnvFile))
	if err != nil {
		t.Fatalf("got %v, want a readable %s", err, samEnvFile)
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: got %v, want a JSON object of objects of strings", samEnvFile, err)
	}

	t.Run(samEnvFile+" has an entry for every function and no other", func(t *testing.T) {
		var got, want []string
		for id := range env {
			got = append(got, id)
		}
		for id := range functions {
			want = append(want, id)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	for id, vars := range env {
		t.Run(samEnvFile+" sets only variables "+id+" declares, as SAM ignores others", func(t *testing.T) {
			fn, ok := functions[id]
			if !ok {
				t.Skipf("%s is not a function (reported above)", id)
			}
			declared := environment(properties(fn))
			for name := range vars {
				if _, ok := declared[name]; !ok {
					t.Errorf("got %s, want only variables of the template: %v", name, keys(declared))
				}
			}
			for _, name := range []string{routes.EnvTable, envDynamoDBEndpoint} {
				if vars[name] == "" {
					t.Errorf("%s: got empty, want a local value", name)
				}
			}
		})
	}

	for id, fn := range functions {
		t.Run(id+"'s code is an asset folder holding bootstrap next to the template", func(t *testing.T) {
			meta, _ := fn["Metadata"].(map[string]interface{})
			if got := meta["aws:asset:property"]; got != "Code" {
				t.Errorf("aws:asset:property: got %v, want Code", got)
			}
			path, _ := meta["aws:asset:path"].(string)
			if path == "" {
				t.Fatalf("aws:asset:path: got none, want the asset folder (SAM needs it)")
			}
			fi, err := os.Stat(filepath.Join(f.outdir, path, "bootstrap"))
			if err != nil {
				t.Fatalf("got %v, want %s/bootstrap in the cloud assembly", err, path)
			}
			if fi.Mode()&0o111 == 0 {
				t.Errorf("bootstrap mode: got %v, want executable", fi.Mode())
			}
		})
	}
}

func keys(m map[string]interface{}) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
