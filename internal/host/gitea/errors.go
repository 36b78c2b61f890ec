package gitea

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// op is the operation a request served, for error messages.
type op int

const (
	opValidate op = iota
	opProbe
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
	opProbe:        "list repositories",
	opListRepos:    "list repositories",
	opGetRepo:      "read the repository",
	opListBranches: "list branches",
	opGetBranch:    "read the branch",
	opCreateBranch: "create the branch",
	opDeleteBranch: "delete the branch",
	opCreatePR:     "create the pull request",
	opFindPR:       "look for pull requests",
	opListHooks:    "list the repository's webhooks",
	opCreateHook:   "create the webhook",
	opUpdateHook:   "update the webhook",
}

func (o op) hooks() bool { return o == opListHooks || o == opCreateHook || o == opUpdateHook }

// hookNeeds is what managing a repository's webhooks takes on Gitea and
// Forgejo.
const hookNeeds = "the integration account needs admin rights on the repository, and its token the " + ScopeWriteRepository + " scope"

// call describes a request for the error message.
type call struct {
	op     op
	repo   string // full name, or "#id"
	branch string // the branch, or a pull request's source
	target string // a pull request's target, or a new branch's base sha
	url    string // the branch's web page, for EBranchExists
}

func (k call) in() string {
	if k.repo == "" {
		return ""
	}
	return " in " + k.repo
}

// apiError is Gitea's error body: {"message": "...", "url": "<swagger>"},
// with "errors" on some 404s and validation failures.
type apiError struct {
	Message string   `json:"message"`
	Errors  []string `json:"errors"`
}

// hostSays is what the host's error body said, "" when it said nothing a
// person should read (no body, or a web page).
func hostSays(h http.Header, body []byte) string {
	if isHTML(h) {
		return ""
	}
	var e apiError
	if json.Unmarshal(body, &e) == nil {
		return strings.TrimSpace(e.Message)
	}
	return ""
}

// requiredScope reads the scope a 403 of Gitea's scope check names:
// "token does not have at least one of required scope(s): [write:repository]"
// (several are listed when any of them would do). ok is false for other
// answers.
func requiredScope(said string) (scope string, ok bool) {
	const marker = "required scope(s):"
	_, rest, found := strings.Cut(said, marker)
	if !found {
		return "", false
	}
	rest = strings.Trim(strings.TrimSpace(rest), "[]")
	if f := strings.Fields(rest); len(f) > 0 {
		return f[0], true
	}
	return "", true
}

// fromStatus maps an HTTP error answer, as listed in hosts.md and Gitea's
// API handlers.
func (c *hostClient) fromStatus(status int, h http.Header, body []byte, k call) *relay.Error {
	said := hostSays(h, body)
	quoted := orDefault(host.Quote(said), http.StatusText(status))
	lower := strings.ToLower(said)
	switch {
	case status == http.StatusUnauthorized:
		return host.CredentialRejected(c.name, said)
	case status == http.StatusTooManyRequests:
		// Gitea has no rate limit of its own; a proxy in front of it may.
		return host.StatusError(c.name, status, h, time.Now())
	case status == http.StatusForbidden:
		return c.forbidden(said, k)
	case status == http.StatusNotFound && strings.Contains(lower, "repository is empty"):
		return relay.Errorf(relay.ENotFound, "The repository %s is empty: push a first commit to it, then try again.", k.repo)
	case status == http.StatusNotFound:
		return c.notFound(k)
	case status == http.StatusConflict || status == http.StatusUnprocessableEntity:
		return c.refused(status, said, k)
	case status == http.StatusLocked:
		return relay.Errorf(relay.EInvalid, "The repository %s is archived, so %s cannot %s; unarchive it first.", k.repo, c.name, verbs[k.op])
	case status >= 500:
		return host.StatusError(c.name, status, h, time.Now())
	}
	return relay.Errorf(relay.EHostError, "%s answered HTTP %d %s when asked to %s%s; try again, and tell an administrator if it keeps happening.",
		c.name, status, quoted, verbs[k.op], k.in())
}

// forbidden words a 403: a token short of a scope, a token limited to
// public repositories, an account without write access, or a refusal of
// the operation itself (default or protected branch, mirror).
func (c *hostClient) forbidden(said string, k call) *relay.Error {
	lower := strings.ToLower(said)
	if scope, ok := requiredScope(said); ok {
		if k.op == opValidate {
			return &relay.Error{Code: relay.EScopeMissing, Scope: orDefault(scope, ScopeReadUser),
				Message: fmt.Sprintf("The token lacks the %s scope, which gitrelay needs to learn which account it belongs to (%s says %s). %s",
					orDefault(scope, ScopeReadUser), c.name, host.Quote(said), tokenHelp)}
		}
		// What gitrelay needs of the repository scope is write, whatever
		// level this particular request asked for.
		want := ScopeWriteRepository
		if strings.HasSuffix(scope, ":user") {
			want = scope
		}
		return &relay.Error{Code: relay.EScopeMissing, Scope: want,
			Message: fmt.Sprintf("The token is not allowed to %s%s: it lacks the %s scope (%s says %s). %s",
				verbs[k.op], k.in(), want, c.name, host.Quote(said), tokenHelp)}
	}
	switch {
	case k.op.hooks() && !strings.Contains(lower, "limited to public"):
		return &relay.Error{Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s (%s): %s.", c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "forbidden"), hookNeeds)}
	case strings.Contains(lower, "limited to public"):
		return &relay.Error{Code: relay.EScopeMissing, Scope: ScopeWriteRepository,
			Message: fmt.Sprintf("The token is limited to public repositories, so it may not %s%s. Create a token without the public-only restriction. %s",
				verbs[k.op], k.in(), tokenHelp)}
	case k.op == opDeleteBranch && strings.Contains(lower, "default branch"):
		return relay.Errorf(relay.EInvalid, "%q is the default branch of %s, which cannot be deleted.", k.branch, k.repo)
	case strings.Contains(lower, "protected"):
		return relay.Errorf(relay.EInvalid, "%s refused to %s %q in %s because the branch is protected (%s). A repository administrator can change the branch protection.",
			c.name, verbs[k.op], k.branch, k.repo, host.Quote(said))
	case strings.Contains(lower, "mirror"):
		return relay.Errorf(relay.EInvalid, "%s is a mirror, whose branches follow another repository; %s cannot %s there.", k.repo, c.name, verbs[k.op])
	}
	return &relay.Error{Code: relay.EScopeMissing,
		Message: fmt.Sprintf("%s refused to %s%s: %s. The token's account needs write access to the repository, and the token the %s scope.",
			c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "forbidden"), ScopeWriteRepository)}
}

// refused words a 409 or 422, Gitea's answers for conflicts and validation
// failures.
func (c *hostClient) refused(status int, said string, k call) *relay.Error {
	lower := strings.ToLower(said)
	quoted := orDefault(host.Quote(said), http.StatusText(status))
	switch k.op {
	case opCreateBranch:
		switch {
		case !host.ValidBranchName(k.branch):
			return invalidName(k.branch)
		case strings.Contains(lower, "same name"):
			// "The branch with the same name already exists.": git cannot
			// hold both "a" and "a/b".
			return conflict(k.branch)
		case strings.Contains(lower, "same tag"):
			return relay.Errorf(relay.EInvalidBranchName, "%s has a tag named %q, so a branch cannot have that name. Choose another name.", k.repo, k.branch)
		case strings.Contains(lower, "already exists"):
			return &relay.Error{Code: relay.EBranchExists, Message: fmt.Sprintf("A branch named %q already exists in %s.", k.branch, k.repo), URL: k.url}
		}
		return relay.Errorf(relay.EInvalidBranchName, "%s refused the branch name %q: %s.", c.name, k.branch, quoted)
	case opCreatePR:
		switch {
		case strings.Contains(lower, "already exists"):
			return relay.Errorf(relay.EPullRequestExists, "A pull request from %q to %q already exists in %s.", k.branch, k.target, k.repo)
		case strings.Contains(lower, "no changes"), strings.Contains(lower, "no commits"):
			return relay.Errorf(relay.EInvalid, "There is nothing to propose yet: %q has no commits that %q lacks. Push a commit to %q first.", k.branch, k.target, k.branch)
		case strings.Contains(lower, "work in progress"), strings.Contains(lower, "draft"):
			return relay.Errorf(relay.EDraftUnsupported, "%s does not accept draft (work in progress) pull requests; create it as a regular pull request.", k.repo)
		}
		return relay.Errorf(relay.EInvalid, "%s refused to create the pull request: %s.", c.name, quoted)
	}
	return relay.Errorf(relay.EInvalid, "%s refused to %s%s: %s.", c.name, verbs[k.op], k.in(), quoted)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// notFound words a 404, which Gitea also answers for private repositories
// the token's account cannot see.
func (c *hostClient) notFound(k call) *relay.Error {
	switch k.op {
	case opValidate, opProbe, opListRepos:
		return relay.Errorf(relay.EHostError, "%s answered Not Found when asked to %s; an administrator should check the integration's base URL (the server's address, without /api/v1).", c.name, verbs[k.op])
	case opGetBranch:
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s (or the token cannot see the repository).", k.branch, k.repo)
	case opDeleteBranch:
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s; it may have been deleted already.", k.branch, k.repo)
	case opCreateBranch:
		return relay.Errorf(relay.ENotFound, "%s answered Not Found when asked to %s%s: the repository may be private and the token's account without access to it, or the base commit may be gone.",
			c.name, verbs[k.op], k.in())
	case opCreatePR:
		return relay.Errorf(relay.ENotFound, "%s answered Not Found when asked to %s%s: the branch %q or %q does not exist, or the token's account cannot see the repository.",
			c.name, verbs[k.op], k.in(), k.branch, k.target)
	}
	return relay.Errorf(relay.ENotFound, "The repository %s was not found on %s, or the token's account cannot see it.",
		orDefault(k.repo, "you asked for"), c.name)
}

func invalidName(name string) *relay.Error {
	return relay.Errorf(relay.EInvalidBranchName,
		"%q is not a valid branch name: git refuses spaces, \"..\", \"~\", \"^\", \":\", \"?\", \"*\", \"[\", \"\\\", a leading \"-\" or \"/\", and a trailing \"/\", \".\" or \".lock\". Choose another name.", name)
}

// conflict explains a name that is in the way of an existing branch: git
// cannot have both "a" and "a/b".
func conflict(name string) *relay.Error {
	examples := []string{fmt.Sprintf("%q", name+"/…")}
	for i, r := range name {
		if r == '/' {
			examples = append(examples, fmt.Sprintf("%q", name[:i]))
		}
	}
	return relay.Errorf(relay.EInvalidBranchName,
		"The branch name %q conflicts with an existing branch such as %s: git cannot have both \"a\" and \"a/b\". Choose another name.",
		name, strings.Join(examples, " or "))
}
