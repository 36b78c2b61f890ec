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
}

func webhookAnswerOf(in webhook.Info) webhookAnswer {
	out := webhookAnswer{URL: in.URL, Secret: in.Secret, Scheme: string(in.Scheme), Username: in.User, Events: in.Events,
		Deliveries: in.Deliveries, Refused: in.Refused}
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

// ObserveWebhook counts a webhook delivery by host kind and outcome
// (webhook.Config.Observe).
func (m *Metrics) ObserveWebhook(kind relay.Kind, outcome string) {
	if kind == "" {
		kind = "unknown"
	}
	m.webhooks.WithLabelValues(string(kind), outcome).Inc()
}
