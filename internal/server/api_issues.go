package server

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/httpx"
)

func (s *Server) development(w http.ResponseWriter, r *http.Request) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	d, err := s.actions.Development(r.Context(), principalFrom(r.Context()), key)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.DevelopmentOf(d))
	return nil
}

func (s *Server) branchName(w http.ResponseWriter, r *http.Request) error {
	key, project, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	name, err := s.actions.PreviewBranchName(r.Context(), principalFrom(r.Context()), branchname.Vars{
		IssueKey: key, Summary: q.Get("summary"), IssueType: q.Get("type"), ProjectKey: project, SourceBranch: q.Get("source")})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"name": name})
	return nil
}

type createBranchRequest struct {
	IntegrationID string `json:"integration_id"`
	RepositoryID  string `json:"repository_id"`
	Base          string `json:"base"`
	Name          string `json:"name"`
	Summary       string `json:"summary"`
	IssueType     string `json:"issue_type"`
}

func (s *Server) createBranch(w http.ResponseWriter, r *http.Request) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	var req createBranchRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	res, err := s.actions.CreateBranch(r.Context(), p, key, action.BranchRequest{
		IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Base: req.Base, Name: req.Name,
		Summary: req.Summary, IssueType: req.IssueType})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, httpx.BranchCreatedOf(res, p.Username))
	return nil
}

func (s *Server) deleteBranch(w http.ResponseWriter, r *http.Request) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	err = s.actions.DeleteBranch(r.Context(), principalFrom(r.Context()), key, action.DeleteBranchRequest{
		IntegrationID: q.Get("integration_id"), RepositoryID: q.Get("repository_id"), Name: q.Get("name")})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type createPullRequestRequest struct {
	IntegrationID string `json:"integration_id"`
	RepositoryID  string `json:"repository_id"`
	Source        string `json:"source"`
	Target        string `json:"target"`
	Title         string `json:"title"`
	Description   string `json:"description"`
	Draft         bool   `json:"draft"`
	Summary       string `json:"summary"`
}

func (s *Server) createPullRequest(w http.ResponseWriter, r *http.Request) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	var req createPullRequestRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	res, err := s.actions.CreatePullRequest(r.Context(), p, key, action.PullRequestRequest{
		IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Source: req.Source, Target: req.Target,
		Title: req.Title, Description: req.Description, Draft: req.Draft, Summary: req.Summary})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, httpx.PullRequestCreatedOf(res, p.Username))
	return nil
}
