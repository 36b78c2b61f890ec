package server

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

func (s *Server) getIndex(w http.ResponseWriter, r *http.Request) error {
	st, err := s.actions.IndexStatus(r.Context(), principalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.IndexStatusOf(st))
	return nil
}

func (s *Server) reindex(w http.ResponseWriter, r *http.Request) error {
	st, err := s.actions.Reindex(r.Context(), principalFrom(r.Context()), r.PathValue("id"), r.PathValue("repo_id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusAccepted, httpx.IndexStatusOf(st))
	return nil
}
