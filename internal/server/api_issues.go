package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/relay"
)

type actedAsJSON struct {
	Via   relay.Via `json:"via"`
	Login string    `json:"login"`
}

type branchRecordJSON struct {
	Name          string      `json:"name"`
	URL           string      `json:"url"`
	IntegrationID string      `json:"integration_id"`
	RepositoryID  string      `json:"repository_id"`
	Repository    string      `json:"repository"`
	ActedAs       actedAsJSON `json:"acted_as"`
	CreatedBy     string      `json:"created_by"`
	CreatedAt     time.Time   `json:"created_at"`
}

type pullRequestRecordJSON struct {
	Number        int         `json:"number"`
	Title         string      `json:"title"`
	URL           string      `json:"url"`
	Source        string      `json:"source"`
	Target        string      `json:"target"`
	Draft         bool        `json:"draft"`
	IntegrationID string      `json:"integration_id"`
	RepositoryID  string      `json:"repository_id"`
	Repository    string      `json:"repository"`
	ActedAs       actedAsJSON `json:"acted_as"`
	CreatedBy     string      `json:"created_by"`
	CreatedAt     time.Time   `json:"created_at"`
}

type devIntegrationJSON struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	RequireUserPAT  bool   `json:"require_user_pat"`
	UserTokenStatus string `json:"user_token_status"`
	SetupURL        string `json:"setup_url"`
}

type developmentJSON struct {
	IssueKey     string                  `json:"issue_key"`
	Branches     []branchRecordJSON      `json:"branches"`
	PullRequests []pullRequestRecordJSON `json:"pull_requests"`
	Integrations []devIntegrationJSON    `json:"integrations"`
}

// issueKey reads and normalises the {key} path value.
func issueKey(r *http.Request) (string, error) {
	key := strings.ToUpper(strings.TrimSpace(r.PathValue("key")))
	if _, err := branchname.IssueProject(key); err != nil {
		return "", err
	}
	return key, nil
}

func (s *Server) development(w http.ResponseWriter, r *http.Request) error {
	key, err := issueKey(r)
	if err != nil {
		return err
	}
	d, err := s.actions.Development(r.Context(), principalFrom(r.Context()), key)
	if err != nil {
		return err
	}
	out := developmentJSON{IssueKey: d.IssueKey, Branches: []branchRecordJSON{}, PullRequests: []pullRequestRecordJSON{}, Integrations: []devIntegrationJSON{}}
	for _, b := range d.Branches {
		out.Branches = append(out.Branches, branchRecordJSON{Name: b.Name, URL: b.URL, IntegrationID: b.IntegrationID,
			RepositoryID: b.RepositoryID, Repository: b.Repository, ActedAs: actedAsJSON(b.ActedAs),
			CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt.UTC()})
	}
	for _, pr := range d.PullRequests {
		out.PullRequests = append(out.PullRequests, pullRequestRecordJSON{Number: pr.Number, Title: pr.Title, URL: pr.URL,
			Source: pr.Source, Target: pr.Target, Draft: pr.Draft, IntegrationID: pr.IntegrationID,
			RepositoryID: pr.RepositoryID, Repository: pr.Repository, ActedAs: actedAsJSON(pr.ActedAs),
			CreatedBy: pr.CreatedBy, CreatedAt: pr.CreatedAt.UTC()})
	}
	for _, in := range d.Integrations {
		out.Integrations = append(out.Integrations, devIntegrationJSON{ID: in.ID, Name: in.Name, Kind: string(in.Kind),
			RequireUserPAT: in.RequireUserPAT, UserTokenStatus: string(in.UserTokenStatus), SetupURL: in.SetupURL})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) branchName(w http.ResponseWriter, r *http.Request) error {
	key, err := issueKey(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	project, _ := branchname.IssueProject(key)
	name, err := s.actions.PreviewBranchName(r.Context(), principalFrom(r.Context()), branchname.Vars{
		IssueKey: key, Summary: q.Get("summary"), IssueType: q.Get("type"), ProjectKey: project, SourceBranch: q.Get("source")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name})
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

type createBranchResponse struct {
	Name           string      `json:"name"`
	URL            string      `json:"url"`
	RepositoryID   string      `json:"repository_id"`
	Repository     string      `json:"repository"`
	ActedAs        actedAsJSON `json:"acted_as"`
	AlreadyExisted bool        `json:"already_existed"`
}

func (s *Server) createBranch(w http.ResponseWriter, r *http.Request) error {
	key, err := issueKey(r)
	if err != nil {
		return err
	}
	var req createBranchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	res, err := s.actions.CreateBranch(r.Context(), principalFrom(r.Context()), key, action.BranchRequest{
		IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Base: req.Base, Name: req.Name,
		Summary: req.Summary, IssueType: req.IssueType})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createBranchResponse{Name: res.Name, URL: res.URL, RepositoryID: res.RepositoryID,
		Repository: res.Repository, ActedAs: actedAsJSON(res.ActedAs), AlreadyExisted: res.AlreadyExists})
	return nil
}

func (s *Server) deleteBranch(w http.ResponseWriter, r *http.Request) error {
	key, err := issueKey(r)
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

type createPullRequestResponse struct {
	Number     int         `json:"number"`
	URL        string      `json:"url"`
	Title      string      `json:"title"`
	Draft      bool        `json:"draft"`
	Repository string      `json:"repository"`
	ActedAs    actedAsJSON `json:"acted_as"`
	Note       string      `json:"note,omitempty"`
}

func (s *Server) createPullRequest(w http.ResponseWriter, r *http.Request) error {
	key, err := issueKey(r)
	if err != nil {
		return err
	}
	var req createPullRequestRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	res, err := s.actions.CreatePullRequest(r.Context(), principalFrom(r.Context()), key, action.PullRequestRequest{
		IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Source: req.Source, Target: req.Target,
		Title: req.Title, Description: req.Description, Draft: req.Draft, Summary: req.Summary})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createPullRequestResponse{Number: res.Number, URL: res.URL, Title: res.Title,
		Draft: res.Draft, Repository: res.Repository, ActedAs: actedAsJSON(res.ActedAs), Note: res.Note})
	return nil
}
