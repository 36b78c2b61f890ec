package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// Every form posts, then redirects to the page that shows the outcome
// (POST/redirect/GET): the address bar never holds a POST address that
// answers Not found on Enter or asks to resubmit on reload. What the
// outcome page must show — the error with what the user typed, or a
// notice — travels in a flash: kept in the database for the session and
// the target page, read once, within flashLifetime. Nothing of it is in
// the URL, so a reload shows the page as it is now.

// flashLifetime bounds how long a flash waits for its page: a redirect is
// followed at once.
const flashLifetime = 5 * time.Minute

// flashCookie says that a flash may be waiting, so that the pages viewed
// when none is (nearly all of them) make no database read for it. It
// holds nothing but "1": the flash itself stays on the server.
const flashCookie = "gitrelay_flash"

// flash is what a form's outcome page shows.
type flash struct {
	// Status is the status the outcome page answers with: the refused
	// action's (422, 428, ...) so that the page says what the API says.
	Status int    `json:"status,omitempty"`
	Notice string `json:"notice,omitempty"`
	// NoticeURL links what the notice is about (an existing pull request).
	NoticeURL string     `json:"notice_url,omitempty"`
	Error     *pageError `json:"error,omitempty"`
	// Failed names the dialog whose error it is ("branch", "pr", "delete").
	Failed string `json:"failed,omitempty"`
	// Form is what the user sent, secrets removed (keepable).
	Form url.Values `json:"form,omitempty"`
	// Resend: a secret was sent, and must be typed again.
	Resend bool `json:"resend,omitempty"`
	// Page-specific outcomes.
	Saved      bool     `json:"saved,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	TestResult string   `json:"test_result,omitempty"`
	TestOK     bool     `json:"test_ok,omitempty"`
	Choose     bool     `json:"choose,omitempty"`
	// Hooks is what registering the webhook did, per repository.
	Hooks []hookResult `json:"hooks,omitempty"`
	// HooksMore counts the repositories Hooks leaves out.
	HooksMore int `json:"hooks_more,omitempty"`
}

// pageSecrets are the pages' own secret fields: the CSRF token, and the
// passwords of sign-in and of changing one's password.
var pageSecrets = []string{"csrf", "password", "current", "new", "confirm", "current_password", "new_password", "confirm_password"}

// secretFields names the form fields never kept in a flash (nor
// anywhere): the pages' own, and every credential field an adapter's form
// marks secret (a PAT, a password, a secret access key), so that a host
// kind describing a new secret field cannot leak it here.
func (p *Pages) secretFields() map[string]bool {
	out := map[string]bool{relay.TokenField.Name: true}
	for _, name := range pageSecrets {
		out[name] = true
	}
	for _, k := range p.c.Kinds {
		kf := p.kindForm(k)
		for _, f := range append(slices.Clone(kf.Credential), kf.NoPAT.Credential...) {
			if f.Secret {
				out[f.Name] = true
			}
		}
	}
	return out
}

// keepable is what of a posted form may be kept to show again: everything
// but secrets and the CSRF token.
func (p *Pages) keepable(f url.Values) url.Values {
	out := url.Values{}
	for k, vs := range f {
		if !p.secret[k] {
			out[k] = append([]string(nil), vs...)
		}
	}
	return out
}

// redirectWith redirects to target with fl for its page.
func (p *Pages) redirectWith(w http.ResponseWriter, r *http.Request, target string, fl flash) error {
	v := viewerFrom(r.Context())
	path := target
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	data, err := json.Marshal(fl)
	if err != nil {
		return err
	}
	err = p.c.Store.PutFlash(r.Context(), store.Flash{SessionHash: v.Hash, TenantID: v.P.TenantID, Path: path,
		Data: string(data), ExpiresAt: p.now().Add(flashLifetime)})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "1", Path: "/", MaxAge: int(flashLifetime.Seconds()),
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
	redirect(w, r, target)
	return nil
}

// takeFlash reads the flash for this page, if any. A flash that cannot be
// read is dropped: the page shows as it is now.
func (p *Pages) takeFlash(r *http.Request) flash {
	v := viewerFrom(r.Context())
	if v == nil || len(v.Hash) == 0 {
		return flash{}
	}
	if _, err := r.Cookie(flashCookie); err != nil {
		return flash{}
	}
	f, err := p.c.Store.TakeFlash(r.Context(), v.Hash, r.URL.Path)
	if err != nil {
		if relay.ErrorCode(err) != relay.ENotFound {
			p.log.WarnContext(r.Context(), "reading page message", "err", err)
		}
		return flash{}
	}
	var fl flash
	if err := json.Unmarshal([]byte(f.Data), &fl); err != nil {
		p.log.WarnContext(r.Context(), "reading page message", "err", err)
		return flash{}
	}
	return fl
}

// status is the page's status: the flash's, or 200.
func (fl flash) status() int {
	if fl.Status != 0 {
		return fl.Status
	}
	return http.StatusOK
}
