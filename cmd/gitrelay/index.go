package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// cmdIndex reports the index of every integration from the database, as
// the API's GET /api/v1/integrations/{id}/index answers it: one JSON object
// per integration and line.
func cmdIndex(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return usagef("index needs a subcommand: status")
	}
	var c common
	fs := newFlagSet("index status", stderr, getenv)
	c.register(fs)
	tenant := fs.String("tenant", relay.LocalTenant, "the tenant id (see `gitrelay audit tenants`)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("index status takes no arguments")
	}
	db, err := c.openStore(ctx, newLogger(stderr, getenv("GITRELAY_LOG_LEVEL")))
	if err != nil {
		return err
	}
	defer db.Close()
	ins, err := db.Integrations(ctx, *tenant)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	now := time.Now()
	for _, in := range ins {
		states, err := db.IndexStates(ctx, *tenant, in.ID, now)
		if err != nil {
			return err
		}
		st := action.IndexStatusOf(in.ID, states, now)
		switch w, err := db.Webhook(ctx, *tenant, in.ID); {
		case err == nil:
			st.Webhook = &action.IndexWebhook{Received: w.Deliveries, Refused: w.Refused, LastDeliveryAt: w.LastDeliveryAt, LastRefusedAt: w.LastRefusedAt}
		case relay.ErrorCode(err) != relay.ENotFound:
			return err
		}
		// The rate budget lives in the serving processes' memory: the
		// API's answer tells it (rate_budget is null here).
		if err := enc.Encode(struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
			httpx.IndexStatus
		}{in.Name, in.Enabled, httpx.IndexStatusOf(st)}); err != nil {
			return err
		}
	}
	return nil
}
