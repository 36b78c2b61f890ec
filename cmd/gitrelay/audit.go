package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// cmdAudit lets the operator read every tenant's audit trail from the
// database, also of Jira sites that disconnected gitrelay: their users and
// credentials are gone, their history is not.
func cmdAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reconcile" {
		return cmdAuditReconcile(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "tenants" && args[0] != "export") {
		return usagef("audit needs a subcommand: tenants, export or reconcile")
	}
	var c common
	fs := newFlagSet("audit "+args[0], stderr, getenv)
	c.register(fs)
	tenant := fs.String("tenant", "", "the tenant id (see `gitrelay audit tenants`)")
	since := fs.String("since", "", "only events at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "only events before this time (RFC 3339 or YYYY-MM-DD)")
	limit := fs.Int("limit", store.MaxAuditLimit, fmt.Sprintf("at most this many events, newest first (up to %d)", store.MaxAuditLimit))
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit %s takes no arguments", args[0])
	}
	f := relay.AuditFilter{Limit: *limit}
	if args[0] == "export" {
		if *tenant == "" {
			return usagef("audit export needs --tenant ID; list the tenants with `gitrelay audit tenants`")
		}
		if *limit < 1 || *limit > store.MaxAuditLimit {
			return usagef("--limit must be from 1 to %d", store.MaxAuditLimit)
		}
		if f.Since, err = cliTime("--since", *since); err != nil {
			return err
		}
		if f.Until, err = cliTime("--until", *until); err != nil {
			return err
		}
	}
	db, err := c.openStore(ctx, newLogger(stderr, getenv("GITRELAY_LOG_LEVEL")))
	if err != nil {
		return err
	}
	defer db.Close()
	enc := json.NewEncoder(stdout)
	if args[0] == "tenants" {
		tenants, err := db.Tenants(ctx)
		if err != nil {
			return err
		}
		for _, t := range tenants {
			row := map[string]any{"id": t.ID, "name": t.Name, "created_at": t.CreatedAt.UTC(), "removed_at": nil}
			if !t.RemovedAt.IsZero() {
				row["removed_at"] = t.RemovedAt.UTC()
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	}
	events, err := db.Audit(ctx, *tenant, f)
	if err != nil {
		return err
	}
	// One JSON object per line, the fields of the API's audit events.
	for _, e := range events {
		if err := enc.Encode(map[string]any{"id": e.ID, "at": e.At.UTC(), "tenant_id": e.TenantID, "user": e.Username,
			"user_id": e.UserID, "action": e.Action, "integration_id": e.IntegrationID, "repository": e.Repository,
			"ref": e.Ref, "issue_key": e.IssueKey, "via": string(e.Via), "login": e.Login, "outcome": e.Outcome,
			"error_code": e.ErrorCode, "detail": e.Detail}); err != nil {
			return err
		}
	}
	return nil
}

func cliTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s %q: use RFC 3339 (2026-11-21T10:00:00Z) or a date (2026-11-21)", flag, v)
}
