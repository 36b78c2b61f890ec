package server

import (
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
)

type tokenJSON struct {
	IntegrationID   string `json:"integration_id"`
	IntegrationName string `json:"integration_name"`
	Kind            string `json:"kind"`
	Required        bool   `json:"required"`
	PATSupported    bool   `json:"pat_supported"`
	Status          string `json:"status"`
	// StatusReason says why, when gitrelay deleted the token (the
	// integration now points at another host).
	StatusReason string       `json:"status_reason,omitempty"`
	Account      *accountJSON `json:"account"`
	Scopes       []string     `json:"scopes"`
	ExpiresAt    *time.Time   `json:"expires_at"`
	ValidatedAt  *time.Time   `json:"validated_at"`
	NewTokenURL  string       `json:"new_token_url"`
	Help         string       `json:"help"`
}

func toTokenJSON(v action.TokenView) tokenJSON {
	t := tokenJSON{IntegrationID: v.IntegrationID, IntegrationName: v.IntegrationName, Kind: string(v.Kind),
		Required: v.Required, PATSupported: v.PATSupported, Status: string(v.Status), StatusReason: v.StatusReason, Scopes: []string{},
		ExpiresAt: v.ExpiresAt, NewTokenURL: v.NewTokenURL, Help: v.Help}
	if v.Account != nil {
		t.Account = &accountJSON{Login: v.Account.Login, Name: v.Account.Name}
		if v.Account.Scopes != nil {
			t.Scopes = v.Account.Scopes
		}
	}
	if !v.ValidatedAt.IsZero() {
		at := v.ValidatedAt.UTC()
		t.ValidatedAt = &at
	}
	return t
}

func (s *Server) myTokens(w http.ResponseWriter, r *http.Request) error {
	views, err := s.actions.MyTokens(r.Context(), principalFrom(r.Context()))
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(views))
	for _, v := range views {
		out = append(out, toTokenJSON(v))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) myToken(w http.ResponseWriter, r *http.Request) error {
	v, err := s.actions.MyToken(r.Context(), principalFrom(r.Context()), r.PathValue("integration_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTokenJSON(v))
	return nil
}

func (s *Server) putToken(w http.ResponseWriter, r *http.Request) error {
	var req credentialJSON
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	v, err := s.actions.SaveToken(r.Context(), principalFrom(r.Context()), r.PathValue("integration_id"), req.credential())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTokenJSON(v))
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.actions.RemoveToken(r.Context(), principalFrom(r.Context()), r.PathValue("integration_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
