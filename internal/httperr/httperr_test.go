package httperr

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestStatusOfEveryCode(t *testing.T) {
	for code, want := range map[string]int{
		relay.EUnauthenticated: 401, relay.EForbidden: 403, relay.ENotFound: 404,
		relay.EUserTokenRequired: 428, relay.EUserTokenExpired: 428, relay.EUserTokenRevoked: 428, relay.EUserTokenInsufficientScope: 428,
		relay.EPATNotSupported: 422, relay.EInvalidBranchName: 422, relay.EInvalid: 422, relay.ETokenInvalid: 422,
		relay.EBranchExists: 409, relay.EPullRequestExists: 409, relay.ERateLimited: 429,
		relay.EHostError: 502, relay.EHostTimeout: 504, relay.EInternal: 500, relay.EBusy: 503,
	} {
		if got := Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
}
