package relay

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are part of the public API (the "code" field of every
// error body), so they never change meaning.
const (
	EUnauthenticated = "unauthenticated"
	EForbidden       = "forbidden"
	ENotFound        = "not_found"
	EInvalid         = "invalid_request"
	EConflict        = "conflict"
	EInternal        = "internal"
	// EBusy: gitrelay refuses work it has no capacity for right now
	// (password hashing); RetryAfter says when to try again.
	EBusy = "busy"

	EUserTokenRequired          = "user_token_required"
	EUserTokenExpired           = "user_token_expired"
	EUserTokenRevoked           = "user_token_revoked"
	EUserTokenInsufficientScope = "user_token_insufficient_scope"

	ETokenInvalid           = "token_invalid"
	ETokenExpired           = "token_expired"
	ETokenInsufficientScope = "token_insufficient_scope"

	EPATNotSupported     = "pat_not_supported"
	EInvalidBranchName   = "invalid_branch_name"
	EBranchExists        = "branch_exists"
	EPullRequestExists   = "pull_request_exists"
	ERateLimited         = "rate_limited"
	EHostError           = "host_error"
	EHostTimeout         = "host_timeout"
	EIntegrationDisabled = "integration_disabled"

	// Codes host adapters return; the action path translates them into the
	// user-facing codes above depending on whose credential was used.
	ECredentialRejected = "credential_rejected" // 401: bad, expired or revoked credential
	EScopeMissing       = "scope_missing"       // the credential works but lacks a permission
	EDraftUnsupported   = "draft_unsupported"   // the repository refuses draft pull requests
)

// EHostNotAllowed: the egress policy refuses the address a host resolves
// to (loopback, link-local, private...); the server operator may allow it
// with --egress-allow.
const EHostNotAllowed = "host_not_allowed"

// Error is gitrelay's one error type. Code is machine-readable, Message is
// safe to show to the person who caused it (it never contains a secret).
// Err keeps an internal cause for logs; it is never shown to users.
type Error struct {
	Code    string
	Message string

	// Fields holds per-field validation messages (invalid_request).
	Fields map[string]string
	// SetupURL and NewTokenURL accompany the user_token_* codes.
	SetupURL    string
	NewTokenURL string
	// URL points at an existing object (branch_exists, pull_request_exists).
	URL string
	// RetryAfter accompanies rate_limited and busy.
	RetryAfter time.Duration
	// Scope names a missing scope (token_insufficient_scope and friends).
	Scope string

	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EInternal for any other non-nil error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	}
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of err, or a generic one for
// internal errors (whose text may hold anything).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred. It has been logged; please try again or contact your administrator."
}

// ErrOutcomeUnknown is in the chain of an error from a host write whose
// answer was lost after the request was sent (the connection closed or
// was reset before the answer was whole): the host may or may not have
// acted, so the attempt is neither a success nor a failure until
// reconciliation has asked the host.
var ErrOutcomeUnknown = errors.New("the host's answer to a write was lost")

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// MsgIntegrationNotFound is how a missing integration is reported,
// wherever it is looked up.
const MsgIntegrationNotFound = "This integration does not exist (it may have been deleted). Reload the page or list the integrations to see the current ones."
