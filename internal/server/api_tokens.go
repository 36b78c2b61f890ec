package server

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

func (s *Server) myTokens(w http.ResponseWriter, r *http.Request) error {
	views, err := s.actions.MyTokens(r.Context(), principalFrom(r.Context()))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.TokensOf(views))
	return nil
}

func (s *Server) myToken(w http.ResponseWriter, r *http.Request) error {
	v, err := s.actions.MyToken(r.Context(), principalFrom(r.Context()), r.PathValue("integration_id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.TokenOf(v))
	return nil
}

func (s *Server) putToken(w http.ResponseWriter, r *http.Request) error {
	var req httpx.Credential
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	v, err := s.actions.SaveToken(r.Context(), principalFrom(r.Context()), r.PathValue("integration_id"), req.Credential())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.TokenOf(v))
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.actions.RemoveToken(r.Context(), principalFrom(r.Context()), r.PathValue("integration_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
