package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// webhookSection is the integration's webhook on its page, for an
// administrator to copy into the host's settings or to have gitrelay
// register. Secret is shown to administrators only (the page is theirs)
// and never logged.
type webhookSection struct {
	URL, Secret, User string
	Basic             bool
	Events            string
	// CanRegister: gitrelay knows its public URL, so it can register the
	// webhook on the host.
	CanRegister bool
	// Registered and Outdated count where gitrelay registered it, and
	// where with a secret rotated since.
	Registered, Outdated int
	// Results is what the last registration did (from its flash).
	Results []hookResult
	More    int
}

// hookResult is one repository's line of a registration's outcome. It
// holds no secret (action.WebhookRegistration has none).
type hookResult struct {
	Repository string `json:"repository"`
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason,omitempty"`
}

// hookOutcomes are a registration's outcomes in the page's words, in the
// order its notice tells them.
var hookOutcomes = []struct{ outcome, label, words string }{
	{action.HookRegistered, "registered", "registered on"},
	{action.HookUpdated, "set again", "set again on"},
	{action.HookAlready, "already right", "already right on"},
	{action.HookFailed, "failed", "failed on"},
	{action.HookSkipped, "not tried", "not tried (out of time) on"},
}

// Label is the outcome in the page's words.
func (h hookResult) Label() string {
	for _, o := range hookOutcomes {
		if o.outcome == h.Outcome {
			return o.label
		}
	}
	return h.Outcome
}

// Attention is true for a line that needs the administrator.
func (h hookResult) Attention() bool { return attention(h) == 1 }

// maxHookResults bounds the lines a registration's flash keeps; the
// counts in its notice cover every repository.
const maxHookResults = 100

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
	canRegister := !strings.HasPrefix(info.URL, "/")
	if !canRegister {
		// No public URL configured: the address the administrator
		// reached gitrelay at (a display only; --public-url fixes it).
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		info.URL = scheme + "://" + r.Host + info.URL
	}
	f.Webhook = &webhookSection{URL: info.URL, Secret: info.Secret, User: info.User, Basic: info.Scheme == webhook.SchemeBasic,
		Events: strings.Join(info.Events, ", "), CanRegister: canRegister, Registered: info.Registered, Outdated: info.Outdated}
}

// RegisterWebhooks has gitrelay register the integration's webhook on its
// repositories, as the integration account, and shows the page with what
// happened on each.
func (p *Pages) RegisterWebhooks(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	page := "/admin/integrations/" + url.PathEscape(id)
	regs, err := p.c.Actions.RegisterWebhooks(r.Context(), viewerFrom(r.Context()).P, id)
	if relay.ErrorCode(err) == relay.ENotFound {
		return err
	}
	if err != nil {
		// Refused before any host call: the page says why, at its top.
		perr := toPageError(err)
		return p.redirectWith(w, r, page, flash{Status: httperr.Status(perr.Code), Error: perr})
	}
	count := map[string]int{}
	var fl flash
	for _, g := range regs {
		count[g.Outcome]++
		fl.Hooks = append(fl.Hooks, hookResult{Repository: g.Repository, Outcome: g.Outcome, Reason: g.Reason})
	}
	// The repositories that need attention first.
	slices.SortStableFunc(fl.Hooks, func(a, b hookResult) int { return cmp.Compare(attention(b), attention(a)) })
	if len(fl.Hooks) > maxHookResults {
		fl.HooksMore, fl.Hooks = len(fl.Hooks)-maxHookResults, fl.Hooks[:maxHookResults]
	}
	var said []string
	for _, o := range hookOutcomes {
		if n := count[o.outcome]; n > 0 {
			said = append(said, o.words+" "+plural(n, "repository", "repositories"))
		}
	}
	fl.Notice = "Webhook registration: " + strings.Join(said, ", ") + "."
	if len(regs) == 0 {
		fl.Notice = "The integration has no repositories to register the webhook on."
	}
	return p.redirectWith(w, r, page+"#webhook", fl)
}

// attention orders a registration's lines: those that need the
// administrator (failed, skipped) first.
func attention(h hookResult) int {
	if h.Outcome == action.HookFailed || h.Outcome == action.HookSkipped {
		return 1
	}
	return 0
}

// RotateWebhook replaces the integration's webhook secret, and shows the
// page with the new one.
func (p *Pages) RotateWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if p.c.Webhooks == nil {
		return relay.Errorf(relay.ENotFound, "Webhooks are not available.")
	}
	info, err := p.c.Webhooks.Rotate(r.Context(), viewerFrom(r.Context()).P, id)
	if err != nil {
		return err
	}
	notice := "The webhook has a new secret: enter it in the host's webhook settings. Deliveries signed with the old one are refused from now on."
	if info.Registered > 0 {
		notice = "The webhook has a new secret. Deliveries signed with the old one are refused from now on: press Register webhooks to send the new one to the " +
			plural(info.Registered, "repository", "repositories") + " gitrelay registered it on, and enter it in any webhook you added by hand."
	}
	return p.redirectWith(w, r, "/admin/integrations/"+url.PathEscape(id)+"#webhook", flash{Notice: notice})
}
