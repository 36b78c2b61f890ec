// Package httperr maps gitrelay's domain error codes to HTTP statuses. It
// is the one place that does, shared by every HTTP edge (the JSON API, the
// pages, the Forge remote endpoints) so they all answer alike.
package httperr

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Status is the HTTP status for a domain error code.
func Status(code string) int {
	switch code {
	case relay.EUnauthenticated:
		return http.StatusUnauthorized
	case relay.EForbidden, relay.EIntegrationDisabled:
		return http.StatusForbidden
	case relay.ENotFound:
		return http.StatusNotFound
	case relay.EConflict, relay.EBranchExists, relay.EPullRequestExists:
		return http.StatusConflict
	case relay.EUserTokenRequired, relay.EUserTokenExpired, relay.EUserTokenRevoked, relay.EUserTokenInsufficientScope:
		return http.StatusPreconditionRequired
	case relay.EInvalid, relay.EInvalidBranchName, relay.EPATNotSupported,
		relay.ETokenInvalid, relay.ETokenExpired, relay.ETokenInsufficientScope, relay.EDraftUnsupported,
		relay.EHostNotAllowed:
		return http.StatusUnprocessableEntity
	case relay.ERateLimited:
		return http.StatusTooManyRequests
	case relay.EBusy:
		return http.StatusServiceUnavailable
	case relay.EHostTimeout:
		return http.StatusGatewayTimeout
	case relay.EHostError, relay.ECredentialRejected, relay.EScopeMissing:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
