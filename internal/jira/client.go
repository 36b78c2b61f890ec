package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// client calls Jira's REST API (at an installation's API base URL) and
// Atlassian's OAuth endpoints. Tokens are sent in headers only, and never
// appear in errors.
type client struct {
	http *http.Client
}

// statusError is a non-2xx answer.
type statusError struct {
	Status     int
	RetryAfter time.Duration
	// Said is what the answer's error fields say (Jira's errorMessages and
	// errors, Atlassian's message, OAuth's error and error_description),
	// cleaned and bounded by host.Sanitize; never the raw body.
	Said string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("jira: status %d: %s", e.Status, e.Said)
}

// errorSaid reads the error fields of a Jira or Atlassian error answer.
func errorSaid(body []byte) string {
	var b struct {
		ErrorMessages    []string        `json:"errorMessages"`
		Errors           json.RawMessage `json:"errors"`
		Message          string          `json:"message"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	said := append([]string{b.Message, b.Error, b.ErrorDescription}, b.ErrorMessages...)
	// errors is {"field": "message"} on Jira's REST API and
	// [{"message": "..."}] on the development information API.
	var fields map[string]string
	if json.Unmarshal(b.Errors, &fields) == nil {
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			said = append(said, k+": "+fields[k])
		}
	} else {
		var list []struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b.Errors, &list)
		for _, e := range list {
			said = append(said, e.Message)
		}
	}
	said = slices.DeleteFunc(said, func(s string) bool { return strings.TrimSpace(s) == "" })
	return host.Sanitize(strings.Join(said, "; "))
}

// do sends a JSON request with a bearer token and decodes a 2xx JSON answer
// into out (when not nil). It returns the status of 2xx answers.
func (c *client) do(ctx context.Context, method, u, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(host.WithCall(ctx, host.KindJira, jiraOp(method, u)), method, u, rd)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL is ours and holds no secret; the error may say which
		// host did not answer.
		return 0, fmt.Errorf("jira: %s %s: %w", method, redactQuery(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// An error answer is read up to 64 KiB: its error fields are at
		// the start, and the rest is not worth the memory.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, &statusError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
			Said: errorSaid(body)}
	}
	if out != nil {
		// The client caps the body (host.DefaultMaxBody).
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
			return resp.StatusCode, fmt.Errorf("jira: %s %s: decoding answer: %w", method, redactQuery(u), err)
		}
	}
	return resp.StatusCode, nil
}

// jiraOp names the operation of a request to Jira or Atlassian for the
// outbound metrics and traces, from a fixed set: never the URL, which
// names a site, an issue or a repository.
func jiraOp(method, u string) string {
	path := redactQuery(u)
	switch {
	case strings.HasSuffix(path, "/rest/api/3/mypermissions"):
		return "my_permissions"
	case strings.HasSuffix(path, "/rest/api/3/permissions/project"):
		return "permitted_projects"
	case strings.Contains(path, "/rest/api/3/issue/"):
		return "get_issue"
	case strings.HasSuffix(path, "/rest/api/3/myself"), strings.HasSuffix(path, "/me"):
		return "myself"
	case strings.HasSuffix(path, "/rest/devinfo/0.10/bulk"):
		return "devinfo_push"
	case strings.Contains(path, "/rest/devinfo/0.10/repository/") && method == http.MethodDelete:
		return "devinfo_delete"
	case strings.HasSuffix(path, "/oauth/token"):
		return "oauth_token"
	case strings.HasSuffix(path, "/oauth/token/accessible-resources"):
		return "accessible_resources"
	}
	return "other"
}

func redactQuery(u string) string {
	before, _, _ := strings.Cut(u, "?")
	return before
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) as the
// git hosts' is read, within [1s, host.MaxRetryAfter]; 0 when absent or
// unreadable.
func retryAfter(v string) time.Duration {
	d, ok := host.RetryAfter(http.Header{"Retry-After": {v}}, time.Now())
	if !ok {
		return 0
	}
	return d
}

// jiraError turns a failed Jira call into what the user is told.
func jiraError(err error, what string) error {
	var se *statusError
	if !errors.As(err, &se) {
		return &relay.Error{Code: relay.EHostError, Message: "Jira did not answer while " + what + ". Try again in a moment.", Err: err}
	}
	switch {
	case se.Status == http.StatusUnauthorized:
		return &relay.Error{Code: relay.EUnauthenticated, Message: "Jira refused your session while " + what + ". Reload the page and try again.", Err: err}
	case se.Status == http.StatusForbidden:
		return &relay.Error{Code: relay.EForbidden, Message: "Jira does not let you see this while " + what + ".", Err: err}
	case se.Status == http.StatusNotFound:
		return &relay.Error{Code: relay.ENotFound, Message: "Jira does not know this (or does not let you see it) while " + what + ".", Err: err}
	case se.Status == http.StatusTooManyRequests:
		return &relay.Error{Code: relay.ERateLimited, RetryAfter: se.RetryAfter, Message: "Jira is rate limiting gitrelay while " + what + ". Try again shortly.", Err: err}
	}
	return &relay.Error{Code: relay.EHostError, Message: "Jira failed while " + what + ". Try again in a moment.", Err: err}
}

// Jira permission keys.
const (
	PermViewDevTools = "VIEW_DEV_TOOLS"
	PermBrowse       = "BROWSE_PROJECTS"
	PermAdminister   = "ADMINISTER"
)

// myPermissions asks Jira which of keys the token's user holds, on
// projectKey (empty: global permissions only).
func (c *client) myPermissions(ctx context.Context, apiBase, token, projectKey string, keys ...string) (map[string]bool, error) {
	q := url.Values{"permissions": {strings.Join(keys, ",")}}
	if projectKey != "" {
		q.Set("projectKey", projectKey)
	}
	var out struct {
		Permissions map[string]struct {
			HavePermission bool `json:"havePermission"`
		} `json:"permissions"`
	}
	if _, err := c.do(ctx, http.MethodGet, strings.TrimRight(apiBase, "/")+"/rest/api/3/mypermissions?"+q.Encode(), token, nil, &out); err != nil {
		var se *statusError
		if projectKey != "" && errors.As(err, &se) && se.Status == http.StatusNotFound {
			// Jira answers 404 for projects the user may not see at all.
			return map[string]bool{}, nil
		}
		return nil, jiraError(err, "checking your permissions")
	}
	got := map[string]bool{}
	for k, p := range out.Permissions {
		got[k] = p.HavePermission
	}
	return got, nil
}

// permittedProjects lists the keys of projects on which the token's user
// holds every one of perms.
func (c *client) permittedProjects(ctx context.Context, apiBase, token string, perms ...string) ([]string, error) {
	var out struct {
		Projects []struct {
			ID  json.Number `json:"id"`
			Key string      `json:"key"`
		} `json:"projects"`
	}
	body := map[string]any{"permissions": perms}
	if _, err := c.do(ctx, http.MethodPost, strings.TrimRight(apiBase, "/")+"/rest/api/3/permissions/project", token, body, &out); err != nil {
		return nil, jiraError(err, "listing your projects")
	}
	keys := make([]string, 0, len(out.Projects))
	for _, p := range out.Projects {
		keys = append(keys, p.Key)
	}
	return keys, nil
}

// Issue is what the branch name template needs from a Jira issue.
type Issue struct {
	Key     string
	Summary string
	Type    string
}

func (c *client) issue(ctx context.Context, apiBase, token, key string) (Issue, error) {
	var out struct {
		Key    string `json:"key"`
		Fields struct {
			Summary   string `json:"summary"`
			IssueType struct {
				Name string `json:"name"`
			} `json:"issuetype"`
		} `json:"fields"`
	}
	u := strings.TrimRight(apiBase, "/") + "/rest/api/3/issue/" + url.PathEscape(key) + "?fields=summary,issuetype"
	if _, err := c.do(ctx, http.MethodGet, u, token, nil, &out); err != nil {
		return Issue{}, jiraError(err, "reading issue "+key)
	}
	return Issue{Key: out.Key, Summary: out.Fields.Summary, Type: out.Fields.IssueType.Name}, nil
}

// myself returns the token's user's display name.
func (c *client) myself(ctx context.Context, apiBase, token string) (string, error) {
	var out struct {
		AccountID   string `json:"accountId"`
		DisplayName string `json:"displayName"`
	}
	if _, err := c.do(ctx, http.MethodGet, strings.TrimRight(apiBase, "/")+"/rest/api/3/myself", token, nil, &out); err != nil {
		return "", jiraError(err, "reading your Jira profile")
	}
	if out.DisplayName == "" {
		return out.AccountID, nil
	}
	return out.DisplayName, nil
}
