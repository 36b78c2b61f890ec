package relay

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every Action constant is among AuditActions, so that the audit page's
// filter offers every action the trail records.
func TestAuditActionsListsEveryAction(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "domain.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Action") || i >= len(spec.Values) {
				continue
			}
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			v, _ := strconv.Unquote(lit.Value)
			found++
			if !slices.Contains(AuditActions, v) {
				t.Errorf("%s (%q) is not in AuditActions", name.Name, v)
			}
		}
		return true
	})
	if found != len(AuditActions) {
		t.Errorf("domain.go declares %d actions, AuditActions lists %d", found, len(AuditActions))
	}
}
