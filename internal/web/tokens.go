package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// tokenRow is one integration on the Personal access tokens page.
type tokenRow struct {
	action.TokenView
	// StatusText and StatusClass describe the token's state in words.
	StatusText, StatusClass string
	// Fields are what a token of this kind is made of, as its adapter
	// describes it; KindLabel is the kind's name.
	Fields    []relay.CredentialField
	KindLabel string
	Selected  bool
	Error     *pageError
}

type tokensData struct {
	Rows     []tokenRow
	Filter   string
	ReturnTo string
	// ReturnLabel names where ReturnTo leads ("issue ABC-1").
	ReturnLabel string
	Selected    string
	Saved       bool
}

func (p *Pages) statusText(v action.TokenView) (string, string) {
	switch v.Status {
	case relay.TokenMissing:
		if v.StatusReason != "" {
			// gitrelay deleted the token (the integration moved to another
			// host): say why, so the user knows what to do.
			then := " Until then, actions use the integration account."
			if v.Required {
				then = " Until then, actions through this integration are refused."
			}
			return "Not set — " + v.StatusReason + then, "bad"
		}
		if v.Required {
			return "Not set — required: actions through this integration are refused until you set up a token.", "bad"
		}
		return "Not set — actions use the integration account.", "muted"
	case relay.TokenUnsupported:
		return "Impossible on this server version: it has no personal access tokens.", "muted"
	case relay.TokenExpired:
		return "Expired — create a new token and update it here.", "bad"
	case relay.TokenRevoked:
		return "Revoked or rejected by the host — create a new token and update it here.", "bad"
	case relay.TokenInsufficientScope:
		return "Missing a scope the host needs for branches and pull requests — create a new token with the scopes below.", "bad"
	}
	s := "Valid"
	if v.Account != nil && v.Account.Login != "" {
		s += " as " + v.Account.Login
	}
	if v.Account != nil && len(v.Account.Scopes) > 0 {
		s += " (scopes: " + strings.Join(v.Account.Scopes, ", ") + ")"
	}
	class := "good"
	if v.ExpiresAt != nil {
		days := int(math.Ceil(v.ExpiresAt.Sub(p.now()).Hours() / 24))
		s += fmt.Sprintf(", expires in %d days (%s)", days, v.ExpiresAt.UTC().Format("2006-01-02"))
		if v.Status == relay.TokenExpiring {
			s = "Expiring soon — " + s
			class = "warn"
		}
	}
	return s + ".", class
}

// returnTo accepts only issue pages as the way back.
func returnTo(s string) (string, string) {
	s = httpx.LocalPath(s)
	if !strings.HasPrefix(s, "/issues/") {
		return "", ""
	}
	key := strings.TrimPrefix(s, "/issues/")
	if i := strings.IndexAny(key, "?#/"); i >= 0 {
		key = key[:i]
	}
	return s, "issue " + key
}

// Tokens is User settings → Personal access tokens.
func (p *Pages) Tokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	fl := p.takeFlash(r)
	return p.renderTokens(w, r, fl.status(), q.Get("integration"), q.Get("return_to"), q.Get("q"), fl.Saved, fl.Error, fl.Notice)
}

func (p *Pages) renderTokens(w http.ResponseWriter, r *http.Request, status int, selected, back, filter string, saved bool, perr *pageError, notice string) error {
	v := viewerFrom(r.Context())
	views, err := p.c.Actions.MyTokens(r.Context(), v.P)
	if err != nil {
		return err
	}
	d := tokensData{Filter: filter, Selected: selected, Saved: saved}
	d.ReturnTo, d.ReturnLabel = returnTo(back)
	for _, tv := range views {
		if filter != "" && !strings.Contains(strings.ToLower(tv.IntegrationName), strings.ToLower(filter)) && tv.IntegrationID != selected {
			continue
		}
		kf := p.kindForm(tv.Kind)
		row := tokenRow{TokenView: tv, Fields: kf.Credential, KindLabel: kf.Label, Selected: tv.IntegrationID == selected}
		row.StatusText, row.StatusClass = p.statusText(tv)
		if perr != nil && perr.For == tv.IntegrationID {
			row.Error = perr
			if tv.Help != "" && strings.Contains(perr.Message, tv.Help) {
				// The help is shown just above: the refusal need not
				// repeat it.
				e := *perr
				e.Message = strings.TrimSpace(strings.Replace(e.Message, tv.Help, "", 1))
				row.Error = &e
			}
		}
		d.Rows = append(d.Rows, row)
	}
	var top *pageError
	if perr != nil && perr.For == "" {
		top = perr
	}
	p.render(w, r, status, "tokens", "Personal access tokens", d, top, notice)
	return nil
}

func tokensPath(id, back string) string {
	q := url.Values{}
	q.Set("integration", id)
	if back != "" {
		q.Set("return_to", back)
	}
	return "/settings/tokens?" + q.Encode() + "#integration-" + id
}

// SaveToken validates the user's PAT with the host and saves it.
func (p *Pages) SaveToken(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	id := r.PathValue("id")
	back, _ := returnTo(r.PostFormValue("return_to"))
	cred := relay.NewCredential(strings.TrimSpace(r.PostFormValue("token")), "", "", strings.TrimSpace(r.PostFormValue("access_key_id")), strings.TrimSpace(r.PostFormValue("secret_access_key")))
	_, err := p.c.Actions.SaveToken(r.Context(), v.P, id, cred)
	if err != nil {
		perr := toPageError(err)
		if perr.Code == relay.ENotFound {
			return err
		}
		perr.For = id
		if httperr.Status(perr.Code) >= 500 {
			p.log.ErrorContext(r.Context(), "saving token failed", "code", perr.Code, "err", err)
		}
		return p.redirectWith(w, r, tokensPath(id, back), flash{Status: httperr.Status(perr.Code), Error: perr})
	}
	return p.redirectWith(w, r, tokensPath(id, back), flash{Notice: "Your token was validated and saved.", Saved: true})
}

// RemoveToken deletes the user's PAT for an integration.
func (p *Pages) RemoveToken(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	id := r.PathValue("id")
	back, _ := returnTo(r.PostFormValue("return_to"))
	if err := p.c.Actions.RemoveToken(r.Context(), v.P, id); err != nil {
		perr := toPageError(err)
		perr.For = id
		return p.redirectWith(w, r, tokensPath(id, back), flash{Status: httperr.Status(perr.Code), Error: perr})
	}
	return p.redirectWith(w, r, tokensPath(id, back), flash{Notice: "Your token was removed."})
}
