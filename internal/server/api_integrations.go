package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// API payloads are httpx's wire types, apart from domain and database
// types, so a secret can never be serialised by accident.

type createIntegrationRequest struct {
	Kind           relay.Kind        `json:"kind"`
	Name           string            `json:"name"`
	BaseURL        string            `json:"base_url"`
	Options        map[string]string `json:"options"`
	Credential     httpx.Credential  `json:"credential"`
	RequireUserPAT bool              `json:"require_user_pat"`
	Projects       []string          `json:"projects"`
	// Repositories null or absent includes every repository.
	Repositories []string `json:"repositories"`
	Enabled      *bool    `json:"enabled"`
}

func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var req createIntegrationRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	in, warnings, err := s.actions.CreateIntegration(r.Context(), principalFrom(r.Context()), action.IntegrationInput{
		Kind: req.Kind, Name: req.Name, BaseURL: req.BaseURL, Options: req.Options,
		Credential: req.Credential.Credential(), RequireUserPAT: req.RequireUserPAT, Projects: req.Projects, Repositories: req.Repositories, Enabled: req.Enabled,
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, httpx.IntegrationOf(in, warnings))
	return nil
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	ins, err := s.actions.Integrations(r.Context(), principalFrom(r.Context()))
	if err != nil {
		return err
	}
	out := make([]httpx.Integration, 0, len(ins))
	for _, in := range ins {
		out = append(out, httpx.IntegrationOf(in, nil))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request) error {
	in, err := s.actions.Integration(r.Context(), principalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.IntegrationOf(in, nil))
	return nil
}

type patchIntegrationRequest struct {
	Kind           *relay.Kind       `json:"kind"`
	Name           *string           `json:"name"`
	BaseURL        *string           `json:"base_url"`
	Options        map[string]string `json:"options"`
	Credential     *httpx.Credential `json:"credential"`
	RequireUserPAT *bool             `json:"require_user_pat"`
	Enabled        *bool             `json:"enabled"`
	// Projects is decoded by hand: absent keeps the association, null
	// means all projects, a list restricts.
	Projects json.RawMessage `json:"projects"`
	// Repositories likewise: absent keeps, null includes every
	// repository, a list of repository ids includes only those.
	Repositories json.RawMessage `json:"repositories"`
}

func (s *Server) patchIntegration(w http.ResponseWriter, r *http.Request) error {
	var req patchIntegrationRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	patch := action.IntegrationPatch{Kind: req.Kind, Name: req.Name, BaseURL: req.BaseURL, Options: req.Options,
		RequireUserPAT: req.RequireUserPAT, Enabled: req.Enabled}
	if req.Credential != nil {
		c := req.Credential.Credential()
		patch.Credential = &c
	}
	if len(req.Projects) > 0 {
		patch.SetProjects = true
		if !bytes.Equal(bytes.TrimSpace(req.Projects), []byte("null")) {
			if err := json.Unmarshal(req.Projects, &patch.Projects); err != nil {
				return &relay.Error{Code: relay.EInvalid, Message: "projects must be null (all projects) or a list of project keys.",
					Fields: map[string]string{"projects": "must be null or a list of project keys"}}
			}
			if patch.Projects == nil {
				patch.Projects = []string{}
			}
		}
	}
	if len(req.Repositories) > 0 {
		patch.SetRepositories = true
		if !bytes.Equal(bytes.TrimSpace(req.Repositories), []byte("null")) {
			if err := json.Unmarshal(req.Repositories, &patch.Repositories); err != nil {
				return &relay.Error{Code: relay.EInvalid, Message: "repositories must be null (all repositories) or a list of repository ids.",
					Fields: map[string]string{"repositories": "must be null or a list of repository ids"}}
			}
			if patch.Repositories == nil {
				patch.Repositories = []string{}
			}
		}
	}
	in, warnings, err := s.actions.UpdateIntegration(r.Context(), principalFrom(r.Context()), r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.IntegrationOf(in, warnings))
	return nil
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	if err := s.actions.DeleteIntegration(r.Context(), principalFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listRepositories searches the repositories the integration includes, or,
// with available=true (administrators only), every repository its account
// can see, for choosing which to include. Answers come from gitrelay's
// cached list of the integration's repositories; refresh=true reads it from
// the host first. limit caps the answer (default 50, at most 500).
func (s *Server) listRepositories(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	search := action.RepositorySearch{Query: query.Get("q"), Limit: action.DefaultRepositoryLimit}
	fields := map[string]string{}
	var err error
	if search.Available, err = boolParam(query.Get("available")); err != nil {
		fields["available"] = "must be true or false"
	}
	if search.Refresh, err = boolParam(query.Get("refresh")); err != nil {
		fields["refresh"] = "must be true or false"
	}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > action.MaxRepositoryLimit {
			fields["limit"] = fmt.Sprintf("must be a whole number from 1 to %d", action.MaxRepositoryLimit)
		}
		search.Limit = n
	}
	if len(fields) > 0 {
		names := make([]string, 0, len(fields))
		for k, v := range fields {
			names = append(names, k+" "+v)
		}
		sort.Strings(names)
		return &relay.Error{Code: relay.EInvalid, Message: strings.Join(names, "; ") + ".", Fields: fields}
	}
	repos, err := s.actions.SearchRepositories(r.Context(), principalFrom(r.Context()), r.PathValue("id"), search)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.RepositoriesOf(repos))
	return nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(v string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errors.New("not a boolean")
}

func (s *Server) listBranches(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.actions.Branches(r.Context(), principalFrom(r.Context()), r.PathValue("id"), r.PathValue("repo_id"), r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.BranchesOf(bs))
	return nil
}

// kindJSON is a host kind: the form its adapter describes (the same the
// Add integration page renders) and what its default server supports.
type kindJSON struct {
	relay.KindForm
	PAT           bool       `json:"pat"`
	Drafts        bool       `json:"drafts"`
	RequiredScope [][]string `json:"required_scopes"`
	TokenHelp     string     `json:"token_help"`
}

func (s *Server) kinds(w http.ResponseWriter, r *http.Request) error {
	out := []kindJSON{}
	for _, k := range s.kindList {
		caps := s.hosts.Capabilities(relay.HostConfig{Kind: k})
		// A kind without scopes (CodeCommit: a key cannot read its own
		// permissions) answers an empty list: the document says array.
		scopes := [][]string{}
		for _, alt := range caps.RequiredScopes {
			scopes = append(scopes, append([]string{}, alt...))
		}
		form := relay.DefaultKindForm(k)
		if kf, ok := s.hosts.(relay.KindForms); ok {
			form = kf.KindForm(k)
		}
		out = append(out, kindJSON{KindForm: form, PAT: caps.PAT, Drafts: caps.Drafts, RequiredScope: scopes, TokenHelp: caps.TokenHelp})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
