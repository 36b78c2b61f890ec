package server_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// clientRuntime is the module the generated client imports; the version is
// the one this test was written against.
const clientRuntime = "github.com/oapi-codegen/runtime v1.9.0"

// A client generated from the document with oapi-codegen (a tool of this
// module, `go tool oapi-codegen`) compiles and passes vet, and every
// operation is a method named after its operationId, so the document's
// names are what a client's author reads.
func TestAGeneratedClientCompilesWithReadableNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a generated client: not with -short")
	}
	doc, err := filepath.Abs("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gen := filepath.Join(dir, "client.gen.go")
	run(t, ".", "go", "tool", "oapi-codegen", "-generate", "types,client", "-package", "gitrelayclient", "-o", gen, doc)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/gitrelayclient\n\ngo 1.26\n\nrequire "+clientRuntime+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "go", "mod", "tidy")
	run(t, dir, "go", "vet", "./...")

	src, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range operationIDs(t, doc) {
		method := "func (c *Client) " + exported(id) + "("
		if !strings.Contains(string(src), method) {
			t.Errorf("the generated client has no %s...): operation %q lost its name", method, id)
		}
	}
}

// run runs a command in dir and fails the test with its output when it
// fails. The generated module is built on its own, outside this module's
// workspace and flags.
func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// operationIDs lists every operationId of the document.
func operationIDs(t *testing.T, doc string) []string {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ops := range d.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, op.OperationID)
		}
	}
	if len(ids) == 0 {
		t.Fatal("the document has no operations")
	}
	return ids
}

// exported is how oapi-codegen names an operation's method: its
// operationId with the first letter upper-cased.
func exported(id string) string {
	r := []rune(id)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
