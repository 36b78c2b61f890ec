package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func requireAdmin(r *http.Request) (relay.Principal, error) {
	p := principalFrom(r.Context())
	if !p.Admin {
		return p, relay.Errorf(relay.EForbidden, "Only administrators can do this.")
	}
	return p, nil
}

type userJSON struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Admin       bool      `json:"admin"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	httpx.WriteJSON(w, http.StatusOK, userJSON{ID: p.UserID, Username: p.Username, DisplayName: p.DisplayName, Admin: p.Admin})
	return nil
}

type auditJSON struct {
	ID            string    `json:"id"`
	At            time.Time `json:"at"`
	User          string    `json:"user"`
	Action        string    `json:"action"`
	IntegrationID string    `json:"integration_id"`
	Repository    string    `json:"repository"`
	Ref           string    `json:"ref"`
	IssueKey      string    `json:"issue_key"`
	Via           string    `json:"via"`
	Login         string    `json:"login"`
	Identity      string    `json:"identity"`
	Outcome       string    `json:"outcome"`
	ErrorCode     string    `json:"error_code"`
	Detail        string    `json:"detail"`
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &relay.Error{Code: relay.EInvalid, Message: "Invalid time filter.",
		Fields: map[string]string{field: "use RFC 3339 (2026-11-21T10:00:00Z) or a date (2026-11-21)"}}
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := relay.AuditFilter{Username: q.Get("user"), IntegrationID: q.Get("integration_id"), Action: q.Get("action"), Outcome: q.Get("outcome")}
	var err error
	if f.Since, err = parseTime("since", q.Get("since")); err != nil {
		return err
	}
	if f.Until, err = parseTime("until", q.Get("until")); err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 10000 {
			return &relay.Error{Code: relay.EInvalid, Message: "Invalid limit.", Fields: map[string]string{"limit": "a whole number from 1 to 10000"}}
		}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return &relay.Error{Code: relay.EInvalid, Message: "Invalid format.", Fields: map[string]string{"format": "json or csv"}}
	}
	events, err := s.actions.Audit(r.Context(), principalFrom(r.Context()), f)
	if err != nil {
		return err
	}
	if format == "csv" {
		return httpx.WriteAuditCSV(w, events)
	}
	out := make([]auditJSON, 0, len(events))
	for _, e := range events {
		out = append(out, auditJSON{ID: e.ID, At: e.At.UTC(), User: e.Username, Action: e.Action, IntegrationID: e.IntegrationID,
			Repository: e.Repository, Ref: e.Ref, IssueKey: e.IssueKey, Via: string(e.Via), Login: e.Login,
			Identity: httpx.IdentityText(e.Via, e.Login), Outcome: e.Outcome, ErrorCode: e.ErrorCode, Detail: e.Detail})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

type settingsJSON struct {
	BranchesEnabled     bool   `json:"branches_enabled"`
	PullRequestsEnabled bool   `json:"pull_requests_enabled"`
	BranchTemplate      string `json:"branch_template"`
	Separator           string `json:"separator"`
	MaxBranchLength     int    `json:"max_branch_length"`
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := s.actions.Settings(r.Context(), principalFrom(r.Context()))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, settingsJSON(st))
	return nil
}

func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	cur, err := s.actions.Settings(r.Context(), p)
	if err != nil {
		return err
	}
	// Start from the current settings so a partial body changes only what
	// it names.
	req := settingsJSON(cur)
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	st, err := s.actions.UpdateSettings(r.Context(), p, relay.Settings(req))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, settingsJSON(st))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	users, err := s.dir.Users(r.Context(), p.TenantID)
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, userJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Admin: u.Admin, CreatedAt: u.CreatedAt.UTC()})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

type createUserRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
	Admin       bool   `json:"admin"`
	Password    string `json:"password"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	var req createUserRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	u, generated, err := s.dir.AddUser(r.Context(), p.TenantID, directory.NewUser(req))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, struct {
		userJSON
		Password string `json:"password,omitempty"`
	}{userJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Admin: u.Admin, CreatedAt: u.CreatedAt.UTC()}, generated})
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	if err := s.dir.DeleteUser(r.Context(), p.TenantID, r.PathValue("username"), p.UserID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type projectJSON struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	projects, err := s.dir.Projects(r.Context(), p.TenantID)
	if err != nil {
		return err
	}
	out := make([]projectJSON, 0, len(projects))
	for _, pr := range projects {
		out = append(out, projectJSON{Key: pr.Key, Name: pr.Name})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	var req projectJSON
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	pr, err := s.dir.AddProject(r.Context(), p.TenantID, req.Key, req.Name)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, projectJSON{Key: pr.Key, Name: pr.Name})
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	if err := s.dir.DeleteProject(r.Context(), p.TenantID, r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type grantJSON struct {
	ProjectKey string `json:"project_key"`
	Username   string `json:"username,omitempty"`
	Everyone   bool   `json:"everyone"`
}

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	key := strings.ToUpper(r.PathValue("key"))
	grants, err := s.dir.Grants(r.Context(), p.TenantID)
	if err != nil {
		return err
	}
	out := []grantJSON{}
	for _, g := range grants {
		if g.ProjectKey == key {
			out = append(out, grantJSON{ProjectKey: g.ProjectKey, Username: g.Username, Everyone: g.UserID == ""})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createGrant(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	var req grantJSON
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Everyone == (req.Username != "") {
		return &relay.Error{Code: relay.EInvalid, Message: `Send either {"username": "..."} or {"everyone": true}.`,
			Fields: map[string]string{"username": "give a username, or set everyone"}}
	}
	g, err := s.dir.Grant(r.Context(), p.TenantID, r.PathValue("key"), req.Username)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, grantJSON{ProjectKey: g.ProjectKey, Username: g.Username, Everyone: g.UserID == ""})
	return nil
}

func (s *Server) deleteGrant(w http.ResponseWriter, r *http.Request) error {
	p, err := requireAdmin(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	username := q.Get("username")
	if (q.Get("everyone") == "true") == (username != "") {
		return &relay.Error{Code: relay.EInvalid, Message: "Pass either ?username=NAME or ?everyone=true.",
			Fields: map[string]string{"username": "give a username, or everyone=true"}}
	}
	if err := s.dir.Revoke(r.Context(), p.TenantID, r.PathValue("key"), username); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
