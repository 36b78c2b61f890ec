package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// MaxBody bounds a delivery's body. GitHub caps payloads at 25 MB but a
// push of thousands of commits is what comes near it; gitrelay needs only
// the repository's name, and a longer body is refused (413) unread.
const MaxBody = 4 << 20

// secretBytes is the entropy of a webhook secret (256 bits).
const secretBytes = 32

// Store is what the webhook service keeps (store.DB implements it).
type Store interface {
	Integration(ctx context.Context, tenantID, id string) (relay.Integration, error)
	Webhook(ctx context.Context, tenantID, integrationID string) (relay.Webhook, error)
	WebhookOfIntegration(ctx context.Context, integrationID string) (relay.Webhook, error)
	PutWebhookSecret(ctx context.Context, tenantID, integrationID string, sealed []byte, at time.Time, onlyIfAbsent bool) (bool, error)
	WebhookRegistrations(ctx context.Context, tenantID, integrationID string) ([]relay.WebhookRegistration, error)
	CountWebhookDelivery(ctx context.Context, tenantID, integrationID string, accepted bool, at time.Time) error
	QueueRepositoryChange(ctx context.Context, ch relay.RepositoryChange) error
}

// Indexer is told that a repository changed, after the change is queued
// durably (relay.RepositoryChange), so that it reads the repository again
// soon. It must not block: the host waits for the delivery's answer.
type Indexer interface {
	RepositoryChanged(ctx context.Context, tenantID, integrationID, repoFullName string)
}

// IndexerFunc is an Indexer in a function, for wiring an indexer built
// after the webhook service.
type IndexerFunc func(ctx context.Context, tenantID, integrationID, repoFullName string)

// RepositoryChanged implements Indexer.
func (f IndexerFunc) RepositoryChanged(ctx context.Context, tenantID, integrationID, repoFullName string) {
	f(ctx, tenantID, integrationID, repoFullName)
}

// Outcomes of a delivery, for the metric.
const (
	OutcomeQueued    = "queued"    // verified; a read of the repository is queued
	OutcomeIgnored   = "ignored"   // verified; an event gitrelay does not act on, a ping, or a disabled integration
	OutcomeMissing   = "missing"   // no signature, token or password: 401
	OutcomeForged    = "forged"    // a signature, token or password that does not verify: 403
	OutcomeUnknown   = "unknown"   // no such integration or webhook: 401
	OutcomeMalformed = "malformed" // verified, but not the host's payload: 400
	OutcomeTooLarge  = "too_large" // longer than MaxBody: 413
)

// Config configures a Service.
type Config struct {
	Store  Store
	Sealer relay.Sealer
	// Indexer may be nil: changes are queued all the same.
	Indexer Indexer
	// PublicURL is where hosts reach gitrelay; the delivery URL is
	// PublicURL + "/hooks/" + the integration id.
	PublicURL string
	Now       func() time.Time
	Logger    *slog.Logger
	// Observe counts each delivery by host kind and outcome (a metric);
	// may be nil.
	Observe func(kind relay.Kind, outcome string)
}

// Service keeps webhook secrets and receives deliveries.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observe == nil {
		c.Observe = func(relay.Kind, string) {}
	}
	return &Service{c: c}
}

// Info is an integration's webhook as an administrator sets it up on the
// host. Secret is the plaintext: show it to administrators only, never log
// it.
type Info struct {
	URL    string
	Secret string
	// Scheme says how the host proves deliveries; for SchemeBasic, User
	// is the user name and Secret the password.
	Scheme         Scheme
	User           string
	Events         []string
	Deliveries     int64
	Refused        int64
	LastDeliveryAt time.Time // zero: never
	// Registered counts the repositories gitrelay registered the webhook
	// on, Outdated those of them registered before the secret was last
	// rotated: their hooks still carry the old secret.
	Registered int
	Outdated   int
}

// Info returns the integration's webhook, making its secret on first use.
// Administrators only; EInvalid for a host kind without verifiable
// webhooks (CodeCommit).
func (s *Service) Info(ctx context.Context, p relay.Principal, integrationID string) (Info, error) {
	return s.info(ctx, p, integrationID, false)
}

// Rotate replaces the integration's webhook secret: deliveries signed with
// the old one are refused from now on. Administrators only.
func (s *Service) Rotate(ctx context.Context, p relay.Principal, integrationID string) (Info, error) {
	return s.info(ctx, p, integrationID, true)
}

func (s *Service) info(ctx context.Context, p relay.Principal, integrationID string, rotate bool) (Info, error) {
	if !p.Admin {
		return Info{}, relay.Errorf(relay.EForbidden, "Only administrators can see or rotate an integration's webhook.")
	}
	in, w, secret, err := s.secret(ctx, p.TenantID, integrationID, rotate)
	if err != nil {
		return Info{}, err
	}
	regs, err := s.c.Store.WebhookRegistrations(ctx, p.TenantID, integrationID)
	if err != nil {
		return Info{}, err
	}
	out := Info{
		URL: s.URL(integrationID), Secret: string(secret), Scheme: SchemeOf(in.Kind), Events: Events(in.Kind),
		Deliveries: w.Deliveries, Refused: w.Refused, LastDeliveryAt: w.LastDeliveryAt, Registered: len(regs),
	}
	for _, r := range regs {
		if !r.SecretAt.Equal(w.RotatedAt) {
			out.Outdated++
		}
	}
	if out.Scheme == SchemeBasic {
		out.User = BasicUser
	}
	return out, nil
}

// Hook is the integration's webhook as a host must deliver it, for gitrelay
// to register on the host (the action path does, as the integration
// account): its URL, the events in the host's names and the proof of its
// secret, made on first use. EInvalid for a host kind without verifiable
// webhooks, or when gitrelay does not know the address hosts reach it at.
func (s *Service) Hook(ctx context.Context, tenantID, integrationID string) (relay.Hook, error) {
	in, w, secret, err := s.secret(ctx, tenantID, integrationID, false)
	if err != nil {
		return relay.Hook{}, err
	}
	hook := relay.Hook{URL: s.URL(integrationID), Events: Events(in.Kind), SecretAt: w.RotatedAt,
		Secret: relay.TokenCredential(string(secret))}
	if SchemeOf(in.Kind) == SchemeBasic {
		hook.Secret = relay.PasswordCredential(BasicUser, string(secret))
	}
	if u, err := url.Parse(hook.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return relay.Hook{}, relay.Errorf(relay.EInvalid, "gitrelay does not know the address git hosts reach it at, so it cannot register webhooks. Start it with --public-url (GITRELAY_PUBLIC_URL), or copy the webhook's address and secret into the host by hand.")
	}
	return hook, nil
}

// secret returns the integration, its webhook and the secret opened,
// making the secret on first use, or a new one when rotate is true.
func (s *Service) secret(ctx context.Context, tenantID, integrationID string, rotate bool) (relay.Integration, relay.Webhook, []byte, error) {
	in, err := s.c.Store.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return in, relay.Webhook{}, nil, err
	}
	if !Supported(in.Kind) {
		return in, relay.Webhook{}, nil, relay.Errorf(relay.EInvalid, "%s sends no webhooks gitrelay can verify; its repositories are read on a schedule instead.", in.Kind)
	}
	w, err := s.c.Store.Webhook(ctx, tenantID, integrationID)
	if e, ok := relay.AsError(err); rotate || (ok && e.Code == relay.ENotFound) {
		// A new secret; when two administrators read a new webhook at
		// once, the first one stored is kept and both see it.
		secret := make([]byte, secretBytes)
		_, _ = rand.Read(secret)
		plain := []byte(base64.RawURLEncoding.EncodeToString(secret))
		sealed, serr := s.c.Sealer.Seal(plain, relay.WebhookSecretOwner(tenantID, integrationID))
		if serr != nil {
			return in, relay.Webhook{}, nil, serr
		}
		if _, perr := s.c.Store.PutWebhookSecret(ctx, tenantID, integrationID, sealed, s.c.Now(), !rotate); perr != nil {
			return in, relay.Webhook{}, nil, perr
		}
		w, err = s.c.Store.Webhook(ctx, tenantID, integrationID)
	}
	if err != nil {
		return in, relay.Webhook{}, nil, err
	}
	opened, err := s.c.Sealer.Open(w.SealedSecret, relay.WebhookSecretOwner(w.TenantID, w.IntegrationID))
	return in, w, opened, err
}

// URL is where the host delivers the integration's webhooks.
func (s *Service) URL(integrationID string) string {
	return strings.TrimRight(s.c.PublicURL, "/") + "/hooks/" + integrationID
}

// ServeHTTP receives a delivery at POST /hooks/{integration_id}. Refusals
// carry no body and no reason: a forger learns nothing from them. Only
// the outcome is logged (never a header, the body or the secret).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, kind, outcome := s.receive(r.Context(), r.PathValue("integration_id"), w, r)
	s.c.Observe(kind, outcome)
	if outcome != OutcomeQueued && outcome != OutcomeIgnored {
		s.c.Logger.InfoContext(r.Context(), "webhook delivery refused", "integration", r.PathValue("integration_id"), "outcome", outcome, "status", status)
	}
	w.WriteHeader(status)
}

func (s *Service) receive(ctx context.Context, id string, w http.ResponseWriter, r *http.Request) (int, relay.Kind, string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return http.StatusRequestEntityTooLarge, "", OutcomeTooLarge
		}
		return http.StatusBadRequest, "", OutcomeMalformed
	}
	hook, err := s.c.Store.WebhookOfIntegration(ctx, id)
	if err != nil {
		if e, ok := relay.AsError(err); ok && e.Code == relay.ENotFound {
			return http.StatusUnauthorized, "", OutcomeUnknown
		}
		s.c.Logger.ErrorContext(ctx, "reading a webhook", "integration", id, "err", err)
		return http.StatusServiceUnavailable, "", "error"
	}
	secret, err := s.c.Sealer.Open(hook.SealedSecret, relay.WebhookSecretOwner(hook.TenantID, hook.IntegrationID))
	if err != nil {
		s.c.Logger.ErrorContext(ctx, "opening a webhook secret", "integration", id, "err", err)
		return http.StatusServiceUnavailable, hook.Kind, "error"
	}
	now := s.c.Now()
	if err := Verify(hook.Kind, r.Header, body, secret); err != nil {
		s.count(ctx, hook, false, now)
		if errors.Is(err, ErrMissing) {
			return http.StatusUnauthorized, hook.Kind, OutcomeMissing
		}
		if errors.Is(err, ErrUnsupported) {
			return http.StatusUnauthorized, hook.Kind, OutcomeUnknown
		}
		return http.StatusForbidden, hook.Kind, OutcomeForged
	}
	s.count(ctx, hook, true, now)
	ev, err := Parse(hook.Kind, r.Header, body)
	if err != nil {
		return http.StatusBadRequest, hook.Kind, OutcomeMalformed
	}
	if !hook.Enabled || (ev.Kind != "push" && ev.Kind != "pull_request") {
		return http.StatusNoContent, hook.Kind, OutcomeIgnored
	}
	err = s.c.Store.QueueRepositoryChange(ctx, relay.RepositoryChange{
		TenantID: hook.TenantID, IntegrationID: hook.IntegrationID,
		Repository: ev.Repository, RepositoryID: ev.RepositoryID, Event: ev.Kind, ReceivedAt: now,
	})
	if err != nil {
		// The host delivers again after a failure answer: nothing is lost.
		s.c.Logger.ErrorContext(ctx, "queueing a repository change", "integration", id, "err", err)
		return http.StatusServiceUnavailable, hook.Kind, "error"
	}
	if s.c.Indexer != nil {
		s.c.Indexer.RepositoryChanged(ctx, hook.TenantID, hook.IntegrationID, ev.Repository)
	}
	return http.StatusAccepted, hook.Kind, OutcomeQueued
}

func (s *Service) count(ctx context.Context, hook relay.Webhook, accepted bool, at time.Time) {
	if err := s.c.Store.CountWebhookDelivery(ctx, hook.TenantID, hook.IntegrationID, accepted, at); err != nil {
		s.c.Logger.WarnContext(ctx, "counting a webhook delivery", "integration", hook.IntegrationID, "err", err)
	}
}
