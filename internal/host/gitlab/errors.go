package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// op is the operation a request served, for error messages.
type op int

const (
	opValidate op = iota
	opListRepos
	opGetRepo
	opListBranches
	opGetBranch
	opCreateBranch
	opDeleteBranch
	opCreatePR
	opFindPR
	opListHooks
	opCreateHook
	opUpdateHook
)

var verbs = map[op]string{
	opValidate:     "check the token",
	opListRepos:    "list projects",
	opGetRepo:      "read the project",
	opListBranches: "list branches",
	opGetBranch:    "read the branch",
	opCreateBranch: "create the branch",
	opDeleteBranch: "delete the branch",
	opCreatePR:     "create the merge request",
	opFindPR:       "look for merge requests",
	opListHooks:    "list the project's webhooks",
	opCreateHook:   "create the webhook",
	opUpdateHook:   "update the webhook",
}

func (o op) hooks() bool { return o == opListHooks || o == opCreateHook || o == opUpdateHook }

// hookNeeds is what managing a project's webhooks takes on GitLab.
const hookNeeds = "the integration account needs the Maintainer role in the project, and its token the api scope"

// call describes a failed request for the error message.
type call struct {
	op     op
	repo   string // path with namespace, or "#id"
	branch string // the branch, or a merge request's source
	target string // a merge request's target, or a new branch's base sha
	url    string // the branch's web page, for EBranchExists
}

func (k call) in() string {
	if k.repo == "" {
		return ""
	}
	return " in " + k.repo
}

// status is the HTTP status of a GitLab error answer, or 0.
func status(err error) int {
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode
	}
	return 0
}

// fail turns an error from the GitLab client into a *relay.Error (or a
// plain error for a bug on our side) and makes sure it does not carry the
// token.
func (c *hostClient) fail(err error, start time.Time, k call) error {
	err = c.classify(err, time.Since(start), k)
	if e, ok := relay.AsError(err); ok {
		return host.Redact(e, c.token.Reveal())
	}
	return host.RedactError(err, c.token.Reveal())
}

func (c *hostClient) classify(err error, elapsed time.Duration, k call) error {
	if e, ok := relay.AsError(err); ok {
		return e
	}
	var (
		respErr   *gl.ErrorResponse
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		urlErr    *url.Error
		netErr    net.Error
	)
	switch {
	case errors.As(err, &respErr):
		e := c.fromResponse(respErr, k, time.Now())
		e.Err = err
		return e
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		e := c.unexpected("answered with something that is not GitLab API data")
		e.Err = err
		return e
	case errors.As(err, &urlErr), errors.As(err, &netErr), errors.As(err, new(*host.BodyTooLargeError)),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return host.TransportError(c.name, err, elapsed)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// A success status with no (or a cut) body, such as 204.
		e := c.unexpected("answered without the data asked for")
		e.Err = err
		return e
	}
	return fmt.Errorf("gitlab: %s: %w", verbs[k.op], err)
}

func (c *hostClient) unexpected(what string) *relay.Error {
	return relay.Errorf(relay.EHostError, "%s %s; an administrator should check the integration's base URL.", c.name, what)
}

// errorBody is every shape of GitLab's error answers:
//
//	{"message": "404 Project Not Found"}
//	{"message": ["Another open merge request already exists for this source branch: !38"]}
//	{"message": {"title": ["can't be blank"]}}
//	{"error": "title is missing"}
//	{"error": "invalid_token", "error_description": "Token is expired. ..."}
//	{"error": "insufficient_scope", "error_description": "...", "scope": "api"}
type errorBody struct {
	Message     json.RawMessage `json:"message"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
	Scope       string          `json:"scope"`
}

// said is what GitLab said, as one line of text.
func (b errorBody) said() string {
	if m := messageText(b.Message); m != "" {
		return m
	}
	if b.Description != "" {
		return b.Description
	}
	return b.Error
}

func messageText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, "; ")
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil {
		var parts []string
		for k, v := range fields {
			parts = append(parts, k+" "+messageText(v))
		}
		sort.Strings(parts)
		return strings.Join(parts, "; ")
	}
	return ""
}

// fromResponse maps an HTTP error answer, as listed in hosts.md.
func (c *hostClient) fromResponse(er *gl.ErrorResponse, k call, now time.Time) *relay.Error {
	code := er.StatusCode
	var h http.Header
	if er.Response != nil {
		h = er.Response.Header
	}
	var body errorBody
	_ = json.Unmarshal(er.Body, &body) // not JSON (a proxy's page, "Retry later"): nothing said
	said := body.said()
	switch {
	case code == http.StatusUnauthorized:
		return host.CredentialRejected(c.name, said)
	case code == http.StatusTooManyRequests:
		d, _ := host.RetryAfter(h, now)
		return host.RateLimited(c.name, d)
	case code == http.StatusForbidden && body.Error == "insufficient_scope":
		return &relay.Error{
			Code: relay.EScopeMissing,
			Message: fmt.Sprintf("The token is not allowed to %s%s: it lacks the api scope (%s says %s). Create a token with the api scope.",
				verbs[k.op], k.in(), c.name, orDefault(host.Quote(said), "insufficient_scope")),
			Scope: "api",
		}
	case code == http.StatusForbidden && k.op.hooks():
		return &relay.Error{Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s (%s): %s.", c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "403 Forbidden"), hookNeeds)}
	case code == http.StatusNotFound && k.op.hooks():
		return &relay.Error{Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s answered Not Found when asked to %s%s: %s (or the project is gone).", c.name, verbs[k.op], k.in(), hookNeeds)}
	case code == http.StatusForbidden:
		return &relay.Error{
			Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s (%s): the token's account needs at least the Developer role in the project, and the branch must not be protected against it.",
				c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "403 Forbidden")),
		}
	case code == http.StatusNotFound:
		return c.notFound(k)
	case code >= 500:
		return host.StatusError(c.name, code, h, now)
	}
	switch k.op {
	case opCreateHook, opUpdateHook:
		return relay.Errorf(relay.EInvalid, "%s refused to %s%s (HTTP %d): %s.", c.name, verbs[k.op], k.in(), code, orDefault(host.Quote(said), "no reason given"))
	case opCreateBranch:
		return c.refusedBranch(k, said)
	case opDeleteBranch:
		return relay.Errorf(relay.EInvalid, "%s refused to delete the branch %q in %s: %s.", c.name, k.branch, k.repo, orDefault(host.Quote(said), http.StatusText(code)))
	case opCreatePR:
		return c.refusedMR(k, code, said)
	}
	return relay.Errorf(relay.EHostError, "%s answered HTTP %d %s when asked to %s%s; try again, and tell an administrator if it keeps happening.",
		c.name, code, orDefault(host.Quote(said), http.StatusText(code)), verbs[k.op], k.in())
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// notFound words a 404: GitLab answers it for projects the token cannot
// see as well as for missing branches and refs.
func (c *hostClient) notFound(k call) *relay.Error {
	switch k.op {
	case opValidate, opListRepos:
		return relay.Errorf(relay.EHostError, "%s answered Not Found when asked to %s; an administrator should check the integration's base URL (the server's address, with its relative root if it has one).", c.name, verbs[k.op])
	case opGetBranch:
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s (or the token cannot see the project).", k.branch, k.repo)
	case opDeleteBranch:
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s; it may have been deleted already (or the token cannot see the project).", k.branch, k.repo)
	case opCreateBranch, opCreatePR:
		return relay.Errorf(relay.ENotFound, "%s answered Not Found when asked to %s%s: the project may be private and the token's account not a member of it.", c.name, verbs[k.op], k.in())
	}
	return relay.Errorf(relay.ENotFound, "The project %s was not found on %s, or the token cannot see it: a private project needs a token of one of its members.",
		orDefault(k.repo, "you asked for"), c.name)
}

// refusedBranch words a 400 to a branch creation.
func (c *hostClient) refusedBranch(k call, said string) *relay.Error {
	switch {
	case strings.Contains(said, "Branch already exists"):
		return &relay.Error{Code: relay.EBranchExists, Message: fmt.Sprintf("A branch named %q already exists in %s.", k.branch, k.repo), URL: k.url}
	case strings.HasPrefix(said, "Invalid reference name"):
		return relay.Errorf(relay.ENotFound, "The base commit %s does not exist in %s; choose the base branch again.", k.target, k.repo)
	case !host.ValidBranchName(k.branch), strings.Contains(said, "Branch name is invalid"):
		return invalidName(k.branch)
	case strings.HasPrefix(said, "Failed to create branch"):
		return conflict(k.branch, said)
	}
	return relay.Errorf(relay.EInvalidBranchName, "%s refused the branch name %q: %s.", c.name, k.branch, orDefault(host.Quote(said), "no reason given"))
}

// refusedMR words a refused merge request. GitLab answers 409 for the
// branch checks (missing branches, an open merge request in the way) and
// 400 or 422 for the rest.
func (c *hostClient) refusedMR(k call, code int, said string) *relay.Error {
	lower := strings.ToLower(said)
	switch {
	case strings.Contains(said, "Another open merge request already exists"):
		return relay.Errorf(relay.EPullRequestExists, "A merge request from %q to %q already exists in %s (%s says %s).", k.branch, k.target, k.repo, c.name, host.Quote(said))
	case strings.HasPrefix(said, "Source branch") && strings.Contains(said, "does not exist"):
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s to propose.", k.branch, k.repo)
	case strings.HasPrefix(said, "Target branch") && strings.Contains(said, "does not exist"):
		return relay.Errorf(relay.ENotFound, "There is no target branch %q in %s.", k.target, k.repo)
	case strings.Contains(said, "same project/branch"):
		return relay.Errorf(relay.EInvalid, "The source and target branches are both %q; choose another target.", k.branch)
	case strings.Contains(lower, "draft"):
		return relay.Errorf(relay.EDraftUnsupported, "%s does not accept draft merge requests; create it as a regular merge request.", k.repo)
	}
	return relay.Errorf(relay.EInvalid, "%s refused to create the merge request (HTTP %d): %s.", c.name, code, orDefault(host.Quote(said), "no reason given"))
}

func invalidName(name string) *relay.Error {
	return relay.Errorf(relay.EInvalidBranchName,
		"%q is not a valid branch name: git refuses spaces, \"..\", \"~\", \"^\", \":\", \"?\", \"*\", \"[\", \"\\\", a leading \"-\" or \"/\", and a trailing \"/\", \".\" or \".lock\". Choose another name.", name)
}

// conflict explains a valid name git could not create: it cannot hold
// both "a" and "a/b".
func conflict(name, said string) *relay.Error {
	examples := []string{fmt.Sprintf("%q", name+"/…")}
	for i, r := range name {
		if r == '/' {
			examples = append(examples, fmt.Sprintf("%q", name[:i]))
		}
	}
	return relay.Errorf(relay.EInvalidBranchName,
		"The branch %q could not be created (%s); it probably conflicts with an existing branch such as %s: git cannot have both \"a\" and \"a/b\". Choose another name.",
		name, host.Quote(said), strings.Join(examples, " or "))
}
