package ecosystem

import (
	"bytes"
	"cmp"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetlog/device-events/infra/local/stacktest"
	"github.com/fleetlog/device-events/pkg/openapi"
	"github.com/fleetlog/device-events/pkg/routes"
)

// root is the repository's root, from this package's folder.
const root = "../../.."

// The base URLs the README's examples use: make run's.
const (
	readmeAPI      = "http://127.0.0.1:3000"
	readmeRegistry = "http://127.0.0.1:3001"
	readmeKeys     = "http://127.0.0.1:3002"
)

// callsTheAPI tells the README's blocks that call a local API: they use
// $API, $REG or $KEYS (not $API_URL nor $REGISTRY_API_URL, which are
// AWS's).
var callsTheAPI = regexp.MustCompile(`\$(API|REG|KEYS)\b`)

// TestTheREADMEExamplesRun runs every shell block of the README that calls
// the local API, as a new user would paste it into bash after `make run`,
// against a local stack, and checks each curl's status: the one its
// comment gives in parentheses, "(201)", or else a success. Every exchange
// is held against the OpenAPI documents too.
func TestTheREADMEExamplesRun(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, b := range shellBlocks(string(readme)) {
		if callsTheAPI.MatchString(b) {
			blocks = append(blocks, b)
		}
	}
	all := strings.Join(blocks, "\n")
	if !strings.Contains(all, "$API") || !strings.Contains(all, "$REG") || !strings.Contains(all, "$KEYS") {
		t.Fatalf("found %d blocks, want some calling $API, $REG and $KEYS", len(blocks))
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the README's examples need curl")
	}

	st := stacktest.New(t)
	api := newRecorder(t, openapi.Events, st.URL)
	registry := newRecorder(t, openapi.Registry, st.RegistryURL)
	keys := newRecorder(t, openapi.For(routes.Keys), st.KeysURL)
	// The key API's dialect routes are held to their own documents.
	recorders := []*recorder{api, registry, keys}
	dialects := map[routes.Dialect]*recorder{}
	for _, d := range routes.Dialects {
		if spec := openapi.ForDialect(d); spec != nil {
			dialects[d] = newRecorder(t, spec, st.KeysURL)
			recorders = append(recorders, dialects[d])
		}
	}
	keysURL := byDialect(t, keys, dialects)
	// The dialects' examples use a key of robot-7, made as the README's
	// "The other systems' clients" says (make apikey).
	key := st.NewKey(t, []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}, []string{"robot-7"})
	// The blocks run where `make run` leaves its token.
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".local"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".local", "dev-token"), []byte(st.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	urls := strings.NewReplacer(readmeAPI, api.URL, readmeRegistry, registry.URL, readmeKeys, keysURL)

	seen := map[*recorder]int{}
	for _, block := range blocks {
		cmds := curlCommands(block)
		name := strings.SplitN(strings.TrimSpace(block), "\n", 2)[0]
		t.Run("the block starting "+name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), "bash", "-e", "-o", "pipefail", "-c", urls.Replace(block))
			cmd.Dir = home
			cmd.Env = append(os.Environ(), "KEYS="+keysURL, "KEY="+key.Key, "ID="+key.ID, "SECRET="+key.Secret)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var got []exchange
			for _, r := range recorders {
				var e []exchange
				e, seen[r] = r.taken(seen[r])
				got = append(got, e...)
			}
			// A block may call several APIs: its requests in the order sent.
			slices.SortFunc(got, func(a, b exchange) int { return cmp.Compare(a.seq, b.seq) })
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out.String())
			}
			if len(got) != len(cmds) {
				t.Fatalf("%d requests for %d curl commands; the requests:\n%v\noutput:\n%s", len(got), len(cmds), got, out.String())
			}
			for i, c := range cmds {
				if ok := c.status == got[i].status || c.status == 0 && got[i].status < 300; !ok {
					want := "a success"
					if c.status != 0 {
						want = strconv.Itoa(c.status)
					}
					t.Errorf("%s\nanswered %d, want %s: %s", c.text, got[i].status, want, got[i].answer)
				}
			}
		})
	}
	api.checkContract(t, "the README's calls of the events API")
	registry.checkContract(t, "the README's calls of the registry's API")
	keys.checkContract(t, "the README's calls of the key API")
	for d, r := range dialects {
		r.checkContract(t, "the README's calls of "+string(d)+"'s routes")
	}
}

// byDialect serves a proxy of the key API that sends each request to the
// recorder of its route's dialect, or to keys: one base URL, as the key
// API has, with each exchange held to its own document.
func byDialect(t *testing.T, keys *recorder, dialects map[routes.Dialect]*recorder) string {
	proxies := map[*recorder]*httputil.ReverseProxy{}
	for _, r := range append(slices.Collect(maps.Values(dialects)), keys) {
		u, err := url.Parse(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxies[r] = httputil.NewSingleHostReverseProxy(u)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		to := keys
		for d, r := range dialects {
			if slices.ContainsFunc(routes.ForDialect(d), func(rt routes.Route) bool { return matchesTemplate(rt.Path, req.URL.Path) }) {
				to = r
			}
		}
		proxies[to].ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// matchesTemplate reports whether path is one of an API Gateway path
// template's: a {parameter} stands for one segment.
func matchesTemplate(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, seg := range ts {
		if !(strings.HasPrefix(seg, "{") && ps[i] != "") && seg != ps[i] {
			return false
		}
	}
	return true
}

// shellBlocks returns the README's ```sh blocks, indented ones (in list
// items) too, without their indentation.
func shellBlocks(md string) []string {
	var blocks []string
	var cur []string
	indent, in := "", false
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case !in && trimmed == "```sh":
			in, cur = true, nil
			indent = line[:len(line)-len(trimmed)]
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

// command is one curl command of a block and the status it implies.
type command struct {
	text   string
	status int // 0: any success
}

var statusInComment = regexp.MustCompile(`\((\d{3})\b`)

// curlCommands returns a block's curl commands, in order. A command's
// status is in its own trailing comment or in the comment lines right
// above it.
func curlCommands(block string) []command {
	var cmds []command
	above := 0
	for _, line := range logicalLines(block) {
		code, comment, _ := strings.Cut(line, " #")
		trimmed := strings.TrimSpace(code)
		switch {
		case trimmed == "":
			above = 0
		case strings.HasPrefix(trimmed, "#"):
			if m := statusInComment.FindStringSubmatch(trimmed); m != nil {
				above, _ = strconv.Atoi(m[1])
			}
		default:
			if strings.Contains(code, "curl ") {
				c := command{text: trimmed, status: above}
				if m := statusInComment.FindStringSubmatch(comment); m != nil {
					c.status, _ = strconv.Atoi(m[1])
				}
				cmds = append(cmds, c)
			}
			above = 0
		}
	}
	return cmds
}

// logicalLines joins the lines a trailing backslash continues.
func logicalLines(block string) []string {
	var lines []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s)
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	return lines
}

// markdownLink is a link's target in Markdown: [text](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestTheDocumentsLinkOnlyToWhatTheRepositoryHolds follows every relative
// link of the repository's Markdown documents: each must name a file or
// folder of the repository, so a clone has what its documents point to.
func TestTheDocumentsLinkOnlyToWhatTheRepositoryHolds(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(root, "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no Markdown documents at the root (%v)", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(string(text), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path := filepath.Join(abs, filepath.FromSlash(target))
			if rel, err := filepath.Rel(abs, path); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links %s, outside the repository", filepath.Base(doc), m[1])
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links %s, which the repository does not hold", filepath.Base(doc), m[1])
			}
		}
	}
}
