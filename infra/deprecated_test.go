package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// TestNoDeprecatedAPIs fails on any use, in the app's code, of a Go
// identifier documented as deprecated: the jsii bindings carry the CDK's
// deprecations as "Deprecated:" paragraphs. They carry no doc on static
// properties (awslambda.Runtime_GO_1_X), whose deprecation jsii does not
// check at run time either.
//
// jsii's own check (JSII_DEPRECATED=fail) works with the Go runtime but
// cannot be used here: TableV2 itself passes the deprecated
// TableGrantsProps#encryptedResource (as undefined), which fails every
// stack with a table.
func TestNoDeprecatedAPIs(t *testing.T) {
	const app, sample = ".", "./testdata/deprecated"
	uses, err := deprecatedUses(app, sample)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the app uses no deprecated identifier", func(t *testing.T) {
		if got := uses[app]; len(got) != 0 {
			t.Errorf("got\n  %s\nwant none", strings.Join(got, "\n  "))
		}
	})
	t.Run("the check finds a deprecated CDK prop", func(t *testing.T) {
		got := strings.Join(uses[sample], "\n")
		if !strings.Contains(got, "PointInTimeRecovery") {
			t.Errorf("got %q, want the use of TablePropsV2.PointInTimeRecovery", got)
		}
	})
}

// deprecatedUses lists, for each package pattern (relative to this
// folder), the uses of identifiers of other packages whose doc comment has
// a "Deprecated:" paragraph. The packages' own files are type-checked;
// their dependencies come from the build cache's export data, and only the
// files declaring an identifier used are parsed for its doc.
func deprecatedUses(patterns ...string) (map[string][]string, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	if len(pkgs) != len(patterns) {
		return nil, fmt.Errorf("loaded %d packages for %v", len(pkgs), patterns)
	}
	// Export data names the standard library's files under $GOROOT.
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	docs := declDocs{goroot: strings.TrimSpace(string(goroot)), files: map[string]map[int]string{}}
	out := map[string][]string{}
	for i, p := range pkgs {
		for _, e := range p.Errors {
			return nil, fmt.Errorf("%s: %v", patterns[i], e)
		}
		seen := map[string]bool{}
		for id, obj := range p.TypesInfo.Uses {
			if obj.Pkg() == nil || obj.Pkg() == p.Types {
				continue
			}
			decl := p.Fset.Position(obj.Pos())
			doc, err := docs.at(decl.Filename, decl.Line)
			if err != nil {
				return nil, err
			}
			if _, note, ok := strings.Cut(doc, "Deprecated:"); ok {
				use := p.Fset.Position(id.Pos())
				msg := fmt.Sprintf("%s:%d: %s.%s is deprecated: %s", use.Filename, use.Line, obj.Pkg().Name(), obj.Name(), strings.Join(strings.Fields(note), " "))
				if !seen[msg] {
					seen[msg] = true
					out[patterns[i]] = append(out[patterns[i]], msg)
				}
			}
		}
		sort.Strings(out[patterns[i]])
	}
	return out, nil
}

// declDocs holds, per parsed file, the doc comment of each declaration,
// struct field and interface method by the line of its name.
type declDocs struct {
	goroot string
	files  map[string]map[int]string
}

func (d declDocs) at(file string, line int) (string, error) {
	if file == "" {
		return "", nil
	}
	if rest, ok := strings.CutPrefix(file, "$GOROOT"); ok {
		file = d.goroot + rest
	}
	byLine, ok := d.files[file]
	if !ok {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return "", err
		}
		byLine = map[int]string{}
		add := func(doc *ast.CommentGroup, names ...*ast.Ident) {
			for _, n := range names {
				if doc != nil {
					byLine[fset.Position(n.Pos()).Line] = doc.Text()
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				add(n.Doc, n.Name)
			case *ast.GenDecl:
				for _, s := range n.Specs {
					doc := n.Doc
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Doc != nil {
							doc = s.Doc
						}
						add(doc, s.Name)
					case *ast.ValueSpec:
						if s.Doc != nil {
							doc = s.Doc
						}
						add(doc, s.Names...)
					}
				}
			case *ast.Field:
				add(n.Doc, n.Names...)
			}
			return true
		})
		d.files[file] = byLine
	}
	return byLine[line], nil
}
