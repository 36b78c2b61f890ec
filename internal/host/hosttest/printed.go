package hosttest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Printed is everything printing or logging v shows: fmt's verbs, an
// error's whole chain and a *relay.Error's fields, and slog's JSON and
// text lines. Tests look for canary secrets in it.
func Printed(v any) []string {
	printed := []string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v)}
	if err, ok := v.(error); ok {
		for e := err; e != nil; e = errors.Unwrap(e) {
			printed = append(printed, e.Error())
		}
		if e, ok := relay.AsError(err); ok {
			printed = append(printed, e.Message, e.URL, e.Scope, fmt.Sprint(e.Fields))
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
	return append(printed, buf.String())
}

// NoSecretPrinted fails t when any of secrets shows in what printing or
// logging v shows (Printed).
func NoSecretPrinted(t testing.TB, v any, secrets ...string) {
	t.Helper()
	for _, p := range Printed(v) {
		for _, s := range secrets {
			if strings.Contains(p, s) {
				t.Errorf("a secret shows: %s", p)
			}
		}
	}
}

// HookRegistrar is c's webhook registration, failing t when c has none.
func HookRegistrar(t testing.TB, c relay.HostClient) relay.HookRegistrar {
	t.Helper()
	h, ok := host.Hooks(c)
	if !ok {
		t.Fatalf("the %T client registers no webhooks", c)
	}
	return h
}
