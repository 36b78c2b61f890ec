// Package webhook receives git hosts' webhook deliveries: it verifies each
// host's own scheme against the integration's secret, reads which
// repository changed, and queues an incremental read of it for the
// indexer. It also keeps the secrets: made on first use, sealed in the
// database, rotated on request.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Scheme is how a host kind proves a delivery comes from it.
type Scheme string

const (
	// SchemeHMAC: an HMAC-SHA256 of the body with the secret, in a header
	// (GitHub's X-Hub-Signature-256 "sha256=<hex>", Gitea's
	// X-Gitea-Signature "<hex>").
	SchemeHMAC Scheme = "hmac-sha256"
	// SchemeToken: the secret itself in a header (GitLab's X-Gitlab-Token).
	SchemeToken Scheme = "token"
	// SchemeBasic: HTTP basic authentication with the secret as password
	// (Azure DevOps service hooks).
	SchemeBasic Scheme = "basic"
)

// BasicUser is the user name Azure DevOps service hooks are set up with;
// only the password (the secret) is a secret.
const BasicUser = "gitrelay"

// Errors of Verify: ErrMissing when the delivery carries no proof at all
// (answered 401), ErrMismatch when its proof does not verify (403).
var (
	ErrMissing     = errors.New("webhook: no signature, token or password")
	ErrMismatch    = errors.New("webhook: signature, token or password does not verify")
	ErrUnsupported = errors.New("webhook: this host kind sends no webhooks gitrelay can verify")
)

// family groups host kinds by the webhook format they send.
type family int

const (
	famNone family = iota
	famGitHub
	famGitLab
	famGitea
	famAzure
)

func familyOf(kind relay.Kind) family {
	switch kind {
	case "github", "github-enterprise":
		return famGitHub
	case "gitlab", "gitlab-self-managed":
		return famGitLab
	case "gitea":
		return famGitea
	case "azure-devops", "vsts", "tfs":
		return famAzure
	}
	return famNone
}

// Supported reports whether gitrelay verifies webhooks of kind.
func Supported(kind relay.Kind) bool { return familyOf(kind) != famNone }

// SchemeOf is the scheme kind's deliveries are verified with ("" when
// unsupported).
func SchemeOf(kind relay.Kind) Scheme {
	switch familyOf(kind) {
	case famGitHub, famGitea:
		return SchemeHMAC
	case famGitLab:
		return SchemeToken
	case famAzure:
		return SchemeBasic
	}
	return ""
}

// Events are the events to subscribe the webhook to on the host, in the
// host's own names.
func Events(kind relay.Kind) []string {
	switch familyOf(kind) {
	case famGitHub, famGitea:
		return []string{"push", "pull_request"}
	case famGitLab:
		return []string{"push_events", "merge_requests_events"}
	case famAzure:
		return []string{"git.push", "git.pullrequest.created", "git.pullrequest.updated", "git.pullrequest.merged"}
	}
	return []string{}
}

// Verify checks a delivery of kind (its headers and whole body) against
// secret, in constant time for the secret. It returns nil, ErrMissing,
// ErrMismatch or ErrUnsupported.
func Verify(kind relay.Kind, h http.Header, body, secret []byte) error {
	if len(secret) == 0 {
		return ErrMismatch
	}
	switch familyOf(kind) {
	case famGitHub:
		sig := strings.TrimSpace(h.Get("X-Hub-Signature-256"))
		if sig == "" {
			return ErrMissing
		}
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return ErrMismatch
		}
		return checkHMAC(hexSig, body, secret)
	case famGitea:
		sig := strings.TrimSpace(h.Get("X-Gitea-Signature"))
		if sig == "" {
			sig = strings.TrimSpace(h.Get("X-Forgejo-Signature"))
		}
		if sig == "" {
			return ErrMissing
		}
		return checkHMAC(sig, body, secret)
	case famGitLab:
		tok := h.Get("X-Gitlab-Token")
		if tok == "" {
			return ErrMissing
		}
		if subtle.ConstantTimeCompare([]byte(tok), secret) != 1 {
			return ErrMismatch
		}
		return nil
	case famAzure:
		user, pass, ok := basicAuth(h.Get("Authorization"))
		if !ok {
			return ErrMissing
		}
		u := subtle.ConstantTimeCompare([]byte(user), []byte(BasicUser))
		p := subtle.ConstantTimeCompare([]byte(pass), secret)
		if u&p != 1 {
			return ErrMismatch
		}
		return nil
	}
	return ErrUnsupported
}

func checkHMAC(hexSig string, body, secret []byte) error {
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return ErrMismatch
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrMismatch
	}
	return nil
}

func basicAuth(h string) (user, pass string, ok bool) {
	scheme, value, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// Sign returns the headers a host of kind sends with body under secret:
// what the simulator sends, and what tests forge deliveries from.
func Sign(kind relay.Kind, body, secret []byte) http.Header {
	h := http.Header{}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	sum := hex.EncodeToString(m.Sum(nil))
	switch familyOf(kind) {
	case famGitHub:
		h.Set("X-Hub-Signature-256", "sha256="+sum)
	case famGitea:
		h.Set("X-Gitea-Signature", sum)
	case famGitLab:
		h.Set("X-Gitlab-Token", string(secret))
	case famAzure:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(BasicUser+":"+string(secret))))
	}
	return h
}

// Event is what a verified delivery says.
type Event struct {
	// Kind is "push", "pull_request", "ping" (a host testing the hook) or
	// "" for an event gitrelay does not act on.
	Kind string
	// Repository is the repository's full name as the host's API names it
	// (owner/name; project/name on Azure DevOps); RepositoryID its id
	// where the payload gives it.
	Repository   string
	RepositoryID string
}

// ErrPayload is Parse's error for a body that is not the host's JSON.
var ErrPayload = errors.New("webhook: the payload is not what the host sends")

// Parse reads a verified delivery of kind: its event (from the host's
// event header or the payload) and repository.
func Parse(kind relay.Kind, h http.Header, body []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	switch familyOf(kind) {
	case famGitHub, famGitea:
		name := h.Get("X-GitHub-Event")
		if familyOf(kind) == famGitea {
			name = firstNonEmpty(h.Get("X-Gitea-Event"), h.Get("X-Forgejo-Event"), h.Get("X-GitHub-Event"))
		}
		var p struct {
			Repository struct {
				ID       json.Number `json:"id"`
				FullName string      `json:"full_name"`
			} `json:"repository"`
		}
		if err := dec.Decode(&p); err != nil {
			return Event{}, ErrPayload
		}
		ev := Event{Repository: p.Repository.FullName, RepositoryID: p.Repository.ID.String()}
		switch name {
		case "push":
			ev.Kind = "push"
		case "pull_request":
			ev.Kind = "pull_request"
		case "ping":
			ev.Kind = "ping"
		}
		return checked(ev)
	case famGitLab:
		var p struct {
			ObjectKind string `json:"object_kind"`
			EventName  string `json:"event_name"`
			Project    struct {
				ID                json.Number `json:"id"`
				PathWithNamespace string      `json:"path_with_namespace"`
			} `json:"project"`
		}
		if err := dec.Decode(&p); err != nil {
			return Event{}, ErrPayload
		}
		ev := Event{Repository: p.Project.PathWithNamespace, RepositoryID: p.Project.ID.String()}
		switch p.ObjectKind {
		case "push", "tag_push":
			ev.Kind = "push"
		case "merge_request":
			ev.Kind = "pull_request"
		}
		return checked(ev)
	case famAzure:
		var p struct {
			EventType string `json:"eventType"`
			Resource  struct {
				Repository struct {
					ID      string `json:"id"`
					Name    string `json:"name"`
					Project struct {
						Name string `json:"name"`
					} `json:"project"`
				} `json:"repository"`
			} `json:"resource"`
		}
		if err := dec.Decode(&p); err != nil {
			return Event{}, ErrPayload
		}
		r := p.Resource.Repository
		ev := Event{RepositoryID: r.ID}
		if r.Project.Name != "" && r.Name != "" {
			ev.Repository = r.Project.Name + "/" + r.Name
		}
		switch {
		case p.EventType == "git.push":
			ev.Kind = "push"
		case strings.HasPrefix(p.EventType, "git.pullrequest."):
			ev.Kind = "pull_request"
		case p.EventType == "service_hook.test" || p.EventType == "":
			// The "Test" button of a service hook subscription sends
			// its event type's sample; an empty type is a ping.
			ev.Kind = "ping"
		}
		return checked(ev)
	}
	return Event{}, ErrUnsupported
}

// checked refuses an event to act on that names no repository.
func checked(ev Event) (Event, error) {
	if ev.Kind == "push" || ev.Kind == "pull_request" {
		if ev.Repository == "" || len(ev.Repository) > 512 || strings.ContainsAny(ev.Repository, "\x00\r\n") {
			return Event{}, ErrPayload
		}
	}
	return ev, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
