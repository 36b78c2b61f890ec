package httpx_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestCSVCellNeutralisesFormulas(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"equals", `=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{"plus", "+1+1", "'+1+1"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"full-width equals", "＝1+1", "'＝1+1"},
		{"plain text", "ABC-1-fix", "ABC-1-fix"},
		{"a formula later in the cell", "ref =1+1", "ref =1+1"},
		{"empty", "", ""},
		{"a lone quote", "'", "'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpx.CSVCell(tt.in); got != tt.want {
				t.Errorf("CSVCell(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Refused requests are audited with what their sender chose, in any
// column: every one comes out neutralised.
func TestAuditCSVNeutralisesEveryColumn(t *testing.T) {
	f := `=HYPERLINK("http://x","y")`
	ev := relay.AuditEvent{ID: f, At: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Username: "@bob", Action: "+act",
		IntegrationID: f, Repository: "-repo", Ref: f, IssueKey: "\tABC-1", Via: relay.Via("=via"), Login: "=login",
		Outcome: "=out", ErrorCode: "+code", Detail: "\rdetail"}
	var b bytes.Buffer
	if err := httpx.AuditCSV(&b, []relay.AuditEvent{ev}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(httpx.AuditColumns, ",") {
		t.Fatalf("rows %v", rows)
	}
	for i, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("column %s holds a formula: %q", rows[0][i], cell)
		}
	}
	if rows[1][1] != "2026-11-21T10:00:00Z" || rows[1][6] != "'"+f {
		t.Errorf("row %q", rows[1])
	}
}
