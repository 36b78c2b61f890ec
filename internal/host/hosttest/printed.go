package hosttest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

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
