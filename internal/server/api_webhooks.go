package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// webhookAnswer is an integration's webhook as an administrator sets it up
// on the host. Unlike every other answer it carries a secret: the API
// serves it to administrators only, with Cache-Control: no-store, and it
// is never logged.
type webhookAnswer struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
	// Scheme says how the host proves a delivery: hmac-sha256 (GitHub,
	// Gitea), token (GitLab), basic (Azure DevOps: Username and Secret
	// as the password).
	Scheme         string     `json:"scheme"`
	Username       string     `json:"username"`
	Events         []string   `json:"events"`
	Deliveries     int64      `json:"deliveries"`
	Refused        int64      `json:"refused"`
	LastDeliveryAt *time.Time `json:"last_delivery_at"`
	// Registered counts the repositories gitrelay registered the webhook
	// on; RegisteredWithOldSecret those of them registered before the
	// last rotation, which must be registered again.
	Registered              int `json:"registered"`
	RegisteredWithOldSecret int `json:"registered_with_old_secret"`
}

func webhookAnswerOf(in webhook.Info) webhookAnswer {
	out := webhookAnswer{URL: in.URL, Secret: in.Secret, Scheme: string(in.Scheme), Username: in.User, Events: in.Events,
		Deliveries: in.Deliveries, Refused: in.Refused, Registered: in.Registered, RegisteredWithOldSecret: in.Outdated}
	if !in.LastDeliveryAt.IsZero() {
		at := in.LastDeliveryAt.UTC()
		out.LastDeliveryAt = &at
	}
	return out
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	return s.answerWebhook(w, r, (*webhook.Service).Info)
}

func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request) error {
	return s.answerWebhook(w, r, (*webhook.Service).Rotate)
}

func (s *Server) answerWebhook(w http.ResponseWriter, r *http.Request, read func(*webhook.Service, context.Context, relay.Principal, string) (webhook.Info, error)) error {
	if s.hooks == nil {
		return relay.Errorf(relay.ENotFound, "This server receives no webhooks.")
	}
	in, err := read(s.hooks, r.Context(), principalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, webhookAnswerOf(in))
	return nil
}

// webhookRegistration is what registering the webhook did on one
// repository. It carries no secret.
type webhookRegistration struct {
	RepositoryID string `json:"repository_id"`
	Repository   string `json:"repository"`
	// Outcome is registered, updated, already, failed or skipped; Reason
	// says why for the last two.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

// registerWebhook registers the integration's webhook on its
// repositories, as the integration account (administrators only).
func (s *Server) registerWebhook(w http.ResponseWriter, r *http.Request) error {
	regs, err := s.actions.RegisterWebhooks(r.Context(), principalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := struct {
		Repositories []webhookRegistration `json:"repositories"`
	}{Repositories: make([]webhookRegistration, 0, len(regs))}
	for _, g := range regs {
		out.Repositories = append(out.Repositories, webhookRegistration{RepositoryID: g.RepositoryID, Repository: g.Repository, Outcome: g.Outcome, Reason: g.Reason})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// ObserveWebhook counts a webhook delivery by host kind and outcome
// (webhook.Config.Observe).
func (m *Metrics) ObserveWebhook(kind relay.Kind, outcome string) {
	if kind == "" {
		kind = "unknown"
	}
	m.webhooks.WithLabelValues(string(kind), outcome).Inc()
}
