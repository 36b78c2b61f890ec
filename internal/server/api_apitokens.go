package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// apiTokenJSON describes an API token. Its secret is never listed: only
// its hash is kept.
type apiTokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

func toAPITokenJSON(t relay.APIToken) apiTokenJSON {
	out := apiTokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt.UTC()}
	if !t.LastUsedAt.IsZero() {
		at := t.LastUsedAt.UTC()
		out.LastUsedAt = &at
	}
	if !t.ExpiresAt.IsZero() {
		at := t.ExpiresAt.UTC()
		out.ExpiresAt = &at
	}
	return out
}

// tokenOwner is the username a users/{username}/api-tokens route acts on:
// administrators may name anyone, others only themselves.
func tokenOwner(r *http.Request) (relay.Principal, string, error) {
	p := principalFrom(r.Context())
	username := strings.ToLower(r.PathValue("username"))
	if !p.Admin && username != p.Username {
		return p, "", relay.Errorf(relay.EForbidden, "Only administrators can manage other users' API tokens. Yours are under /api/v1/me/api-tokens.")
	}
	return p, username, nil
}

func (s *Server) createAPIToken(w http.ResponseWriter, r *http.Request) error {
	p, username, err := tokenOwner(r)
	if err != nil {
		return err
	}
	var req struct {
		Name          string `json:"name"`
		ExpiresInDays int    `json:"expires_in_days"`
	}
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(r, &req); err != nil {
			return err
		}
	}
	token, t, err := s.dir.CreateAPIToken(r.Context(), p, username, directory.NewToken{Name: req.Name, ExpiresInDays: req.ExpiresInDays})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, struct {
		apiTokenJSON
		Token string `json:"token"`
		Note  string `json:"note"`
	}{toAPITokenJSON(t), token, "Store this token now: it cannot be shown again."})
	return nil
}

func (s *Server) listAPITokens(w http.ResponseWriter, r *http.Request, p relay.Principal, username string) error {
	tokens, err := s.dir.APITokens(r.Context(), p.TenantID, username)
	if err != nil {
		return err
	}
	out := make([]apiTokenJSON, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, toAPITokenJSON(t))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) myAPITokens(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	return s.listAPITokens(w, r, p, p.Username)
}

func (s *Server) userAPITokens(w http.ResponseWriter, r *http.Request) error {
	p, username, err := tokenOwner(r)
	if err != nil {
		return err
	}
	return s.listAPITokens(w, r, p, username)
}

func (s *Server) revokeMyAPIToken(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if err := s.dir.RevokeAPIToken(r.Context(), p, p.Username, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) revokeUserAPIToken(w http.ResponseWriter, r *http.Request) error {
	p, username, err := tokenOwner(r)
	if err != nil {
		return err
	}
	if err := s.dir.RevokeAPIToken(r.Context(), p, username, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
