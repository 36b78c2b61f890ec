package webhook_test

import "github.com/gitrelay/gitrelay/internal/relay"

func relayKind(s string) relay.Kind { return relay.Kind(s) }
