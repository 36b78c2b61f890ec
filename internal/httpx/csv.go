package httpx

import (
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// AuditColumns is the header of the audit export, the same for the API's
// format=csv and the pages' /admin/audit.csv.
var AuditColumns = []string{"id", "at", "user", "action", "integration_id", "repository", "ref", "issue_key",
	"via", "login", "identity", "outcome", "error_code", "detail"}

// WriteAuditCSV answers events as a CSV download.
func WriteAuditCSV(w http.ResponseWriter, events []relay.AuditEvent) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="gitrelay-audit.csv"`)
	return AuditCSV(w, events)
}

// AuditCSV writes events as CSV: the header, then one row per event. Every
// cell goes through CSVCell: refused requests are audited with the fields
// their sender chose (a ref, a repository, an integration id), so any
// column may hold a formula aimed at an administrator's spreadsheet.
func AuditCSV(w io.Writer, events []relay.AuditEvent) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(AuditColumns))
	copy(row, AuditColumns)
	if err := cw.Write(row); err != nil {
		return err
	}
	for _, e := range events {
		cells := []string{e.ID, e.At.UTC().Format(time.RFC3339Nano), e.Username, e.Action, e.IntegrationID, e.Repository,
			e.Ref, e.IssueKey, string(e.Via), e.Login, IdentityText(e.Via, e.Login), e.Outcome, e.ErrorCode, e.Detail}
		for i, c := range cells {
			row[i] = CSVCell(c)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// formulaStart holds what a spreadsheet reads as the start of a formula
// (OWASP CSV injection), with the full-width forms some locales accept.
const formulaStart = "=+-@\t\r＝＋－＠"

// CSVCell neutralises a cell a spreadsheet would run as a formula by
// prefixing it with a single quote, which spreadsheets show as text.
func CSVCell(s string) string {
	if r, _ := utf8.DecodeRuneInString(s); s != "" && strings.ContainsRune(formulaStart, r) {
		return "'" + s
	}
	return s
}

// IdentityText says in words which identity acted.
func IdentityText(via relay.Via, login string) string {
	switch via {
	case relay.ViaUserToken:
		if login == "" {
			return "user PAT"
		}
		return "user PAT as " + login
	case relay.ViaIntegration:
		if login == "" {
			return "integration account"
		}
		return "integration account (" + login + ")"
	}
	return ""
}
