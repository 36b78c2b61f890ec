package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// webhookSection is the integration's webhook on its page, for an
// administrator to copy into the host's settings. Secret is shown to
// administrators only (the page is theirs) and never logged.
type webhookSection struct {
	URL, Secret, User string
	Basic             bool
	Events            string
}

// fillWebhook adds the integration's webhook to its page, making its
// secret on first view; the page shows without it for host kinds that
// send no verifiable webhooks, or when it cannot be read. The answer is
// then not to be stored by any cache.
func (p *Pages) fillWebhook(w http.ResponseWriter, r *http.Request, id string, f *integrationForm) {
	if p.c.Webhooks == nil {
		return
	}
	info, err := p.c.Webhooks.Info(r.Context(), viewerFrom(r.Context()).P, id)
	if err != nil {
		if relay.ErrorCode(err) != relay.EInvalid {
			p.log.WarnContext(r.Context(), "webhook", "integration", id, "err", relay.ErrorCode(err))
		}
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(info.URL, "/") {
		// No public URL configured: the address the administrator
		// reached gitrelay at (a display only; --public-url fixes it).
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		info.URL = scheme + "://" + r.Host + info.URL
	}
	f.Webhook = &webhookSection{URL: info.URL, Secret: info.Secret, User: info.User, Basic: info.Scheme == webhook.SchemeBasic,
		Events: strings.Join(info.Events, ", ")}
}

// RotateWebhook replaces the integration's webhook secret, and shows the
// page with the new one.
func (p *Pages) RotateWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if p.c.Webhooks == nil {
		return relay.Errorf(relay.ENotFound, "Webhooks are not available.")
	}
	if _, err := p.c.Webhooks.Rotate(r.Context(), viewerFrom(r.Context()).P, id); err != nil {
		return err
	}
	return p.redirectWith(w, r, "/admin/integrations/"+url.PathEscape(id)+"#webhook",
		flash{Notice: "The webhook has a new secret: enter it in the host's webhook settings. Deliveries signed with the old one are refused from now on."})
}
