package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

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

// call describes a failed request for the error message.
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

// fail turns an error from go-github into a *relay.Error (or a plain error
// for a bug on our side) and makes sure it does not carry the token.
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
	wrap := func(e *relay.Error) *relay.Error {
		e.Err = err
		return e
	}
	now := time.Now()
	var (
		rateErr     *gh.RateLimitError
		abuseErr    *gh.AbuseRateLimitError
		twoFactor   *gh.TwoFactorAuthError
		respErr     *gh.ErrorResponse
		acceptedErr *gh.AcceptedError
		redirectErr *gh.RedirectionError
		syntaxErr   *json.SyntaxError
		typeErr     *json.UnmarshalTypeError
		urlErr      *url.Error
		netErr      net.Error
	)
	switch {
	case errors.As(err, &rateErr):
		// Also what go-github answers, without a request, while a limit it
		// saw earlier on this client is still in force.
		var wait time.Duration // unknown: host.DefaultRetryAfter
		if reset := rateErr.Rate.Reset.Time; !reset.IsZero() {
			wait = max(reset.Sub(now).Round(time.Second), time.Second)
		}
		return wrap(host.RateLimited(c.name, wait))
	case errors.As(err, &abuseErr):
		return wrap(host.RateLimited(c.name, abuseErr.GetRetryAfter()))
	case errors.As(err, &twoFactor):
		return wrap(host.CredentialRejected(c.name, twoFactor.Message))
	case errors.As(err, &respErr) && respErr.Response != nil:
		return wrap(c.fromResponse(respErr, k, now))
	case errors.As(err, &acceptedErr):
		return wrap(relay.Errorf(relay.EHostError, "%s accepted the request but has not finished it; try again in a minute.", c.name))
	case errors.As(err, &redirectErr):
		return wrap(relay.Errorf(relay.EHostError, "%s answered with a redirect (HTTP %d) that gitrelay does not follow; an administrator should check the integration's base URL.", c.name, redirectErr.StatusCode))
	case errors.Is(err, gh.ErrPathForbidden):
		if k.op == opCreateBranch {
			return wrap(invalidName(k.branch))
		}
		return wrap(c.notFound(k))
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return wrap(c.unexpected("answered with something that is not GitHub API data"))
	case errors.As(err, &urlErr), errors.As(err, &netErr), errors.As(err, new(*host.BodyTooLargeError)),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return host.TransportError(c.name, err, elapsed)
	}
	return fmt.Errorf("github: %s: %w", verbs[k.op], err)
}

func (c *hostClient) unexpected(what string) *relay.Error {
	return relay.Errorf(relay.EHostError, "%s %s; an administrator should check the integration's base URL.", c.name, what)
}

// fromResponse maps an HTTP error answer, as listed in hosts.md.
func (c *hostClient) fromResponse(er *gh.ErrorResponse, k call, now time.Time) *relay.Error {
	status, h, said := er.Response.StatusCode, er.Response.Header, er.Message
	limited := status == http.StatusForbidden || status == http.StatusTooManyRequests
	rateLimited := limited && (h.Get("Retry-After") != "" || h.Get("X-RateLimit-Remaining") == "0")
	if k.op.hooks() && !rateLimited {
		if e := c.refusedHook(er, k); e != nil {
			return e
		}
	}
	switch {
	case status == http.StatusUnauthorized:
		return host.CredentialRejected(c.name, said)
	case rateLimited,
		status == http.StatusTooManyRequests,
		status == http.StatusForbidden && strings.Contains(strings.ToLower(said), "rate limit"):
		d, _ := host.RetryAfter(h, now)
		return host.RateLimited(c.name, d)
	case status == http.StatusForbidden && strings.HasPrefix(said, "Resource not accessible by personal access token"):
		return &relay.Error{
			Code: relay.EScopeMissing,
			Message: fmt.Sprintf("The token is not allowed to %s%s (%s says %s). A fine-grained token needs the Contents and Pull requests permissions set to Read and write for this repository; a classic token needs the repo scope.",
				verbs[k.op], k.in(), c.name, host.Quote(said)),
			// Which permission the endpoint wanted, such as "contents=write".
			Scope: h.Get("X-Accepted-GitHub-Permissions"),
		}
	case status == http.StatusForbidden:
		return &relay.Error{
			Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s: %s. The token's account needs write access to the repository, and the token needs the repo scope (classic) or Contents and Pull requests set to Read and write (fine-grained).",
				c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "forbidden")),
		}
	case status == http.StatusNotFound:
		return c.notFound(k)
	case status == http.StatusConflict && strings.Contains(strings.ToLower(said), "empty"):
		return relay.Errorf(relay.ENotFound, "The repository %s is empty: push a first commit to it, then try again.", k.repo)
	case status == http.StatusUnprocessableEntity:
		return c.unprocessable(er, k)
	case status >= 500:
		return host.StatusError(c.name, status, h, now)
	}
	return relay.Errorf(relay.EHostError, "%s answered HTTP %d %s when asked to %s%s; try again, and tell an administrator if it keeps happening.",
		c.name, status, orDefault(host.Quote(said), http.StatusText(status)), verbs[k.op], k.in())
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// notFound words a 404, which GitHub also answers for private repositories
// a token cannot see and for writes a classic token lacks the scope for.
func (c *hostClient) notFound(k call) *relay.Error {
	switch k.op {
	case opValidate, opListRepos:
		return relay.Errorf(relay.EHostError, "%s answered Not Found when asked to %s; an administrator should check the integration's base URL.", c.name, verbs[k.op])
	case opGetBranch:
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s (or the token cannot see the repository).", k.branch, k.repo)
	case opCreateBranch, opDeleteBranch, opCreatePR:
		return relay.Errorf(relay.ENotFound, "%s answered Not Found when asked to %s%s: the repository may be private and the token without access to it, or the token may not be allowed to write (a classic token needs the repo scope).",
			c.name, verbs[k.op], k.in())
	}
	return relay.Errorf(relay.ENotFound, "The repository %s was not found on %s, or the token cannot see it: a private repository needs a token with access to it (a classic token needs the repo scope).",
		orDefault(k.repo, "you asked for"), c.name)
}

// hookNeeds is what managing a repository's webhooks takes on GitHub.
const hookNeeds = "the integration account needs admin rights on the repository, and its token the repo or admin:repo_hook scope (classic) or the Webhooks permission set to Read and write (fine-grained)"

// refusedHook words GitHub's refusals of the webhook endpoints, which
// answer 404 to an account without admin rights (GitHub hides them), or
// nil for an answer the general rules word.
func (c *hostClient) refusedHook(er *gh.ErrorResponse, k call) *relay.Error {
	status, said := er.Response.StatusCode, er.Message
	switch {
	case status == http.StatusNotFound:
		return &relay.Error{Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s answered Not Found when asked to %s%s: %s (or the repository is gone).", c.name, verbs[k.op], k.in(), hookNeeds)}
	case status == http.StatusForbidden && !strings.Contains(strings.ToLower(said), "rate limit"):
		return &relay.Error{Code: relay.EScopeMissing, Scope: er.Response.Header.Get("X-Accepted-GitHub-Permissions"),
			Message: fmt.Sprintf("%s refused to %s%s (%s): %s.", c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "forbidden"), hookNeeds)}
	case status == http.StatusUnprocessableEntity:
		var details []string
		for _, e := range er.Errors {
			if e.Message != "" {
				details = append(details, e.Message)
			}
		}
		return relay.Errorf(relay.EInvalid, "%s refused to %s%s: %s.", c.name, verbs[k.op], k.in(),
			host.Quote(strings.Join(append([]string{said}, details...), "; ")))
	}
	return nil
}

// unprocessable words a 422, GitHub's answer for most refusals.
func (c *hostClient) unprocessable(er *gh.ErrorResponse, k call) *relay.Error {
	said := er.Message
	var details []string
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			details = append(details, e.Message)
		case e.Field != "":
			details = append(details, e.Field+" "+e.Code)
		}
	}
	all := strings.Join(append([]string{said}, details...), "; ")
	hostSays := host.Quote(all)
	switch k.op {
	case opCreateBranch:
		switch {
		case strings.Contains(said, "Reference already exists"):
			return &relay.Error{Code: relay.EBranchExists, Message: fmt.Sprintf("A branch named %q already exists in %s.", k.branch, k.repo), URL: k.url}
		case strings.Contains(said, "Object does not exist"):
			return relay.Errorf(relay.ENotFound, "The base commit %s does not exist in %s; choose the base branch again.", k.target, k.repo)
		case !host.ValidBranchName(k.branch):
			return invalidName(k.branch)
		case strings.Contains(said, "Reference update failed"):
			return conflict(k.branch)
		}
		return relay.Errorf(relay.EInvalidBranchName, "%s refused the branch name %q: %s.", c.name, k.branch, hostSays)
	case opDeleteBranch:
		if strings.Contains(said, "Reference does not exist") {
			return relay.Errorf(relay.ENotFound, "There is no branch %q in %s; it may have been deleted already.", k.branch, k.repo)
		}
		return relay.Errorf(relay.EInvalid, "%s refused to delete the branch %q in %s: %s.", c.name, k.branch, k.repo, hostSays)
	case opCreatePR:
		return c.refusedPR(er, k, hostSays)
	}
	return relay.Errorf(relay.EInvalid, "%s refused to %s%s: %s.", c.name, verbs[k.op], k.in(), hostSays)
}

func (c *hostClient) refusedPR(er *gh.ErrorResponse, k call, hostSays string) *relay.Error {
	if strings.Contains(er.Message, "Draft pull requests are not supported") {
		return relay.Errorf(relay.EDraftUnsupported, "%s does not accept draft pull requests; create it as a regular pull request.", k.repo)
	}
	for _, e := range er.Errors {
		switch {
		case strings.HasPrefix(e.Message, "A pull request already exists for"):
			return relay.Errorf(relay.EPullRequestExists, "A pull request from %q to %q already exists in %s.", k.branch, k.target, k.repo)
		case strings.Contains(e.Message, "Draft pull requests are not supported"):
			return relay.Errorf(relay.EDraftUnsupported, "%s does not accept draft pull requests; create it as a regular pull request.", k.repo)
		case strings.HasPrefix(e.Message, "No commits between"):
			return relay.Errorf(relay.EInvalid, "There is nothing to propose yet: %q has no commits that %q lacks. Push a commit to %q first.", k.branch, k.target, k.branch)
		case e.Field == "head" && (e.Code == "invalid" || e.Code == "missing"):
			return relay.Errorf(relay.ENotFound, "There is no branch %q in %s to propose.", k.branch, k.repo)
		case e.Field == "base" && (e.Code == "invalid" || e.Code == "missing"):
			return relay.Errorf(relay.ENotFound, "There is no target branch %q in %s.", k.target, k.repo)
		}
	}
	return relay.Errorf(relay.EInvalid, "%s refused to create the pull request: %s.", c.name, hostSays)
}

func invalidName(name string) *relay.Error {
	return relay.Errorf(relay.EInvalidBranchName,
		"%q is not a valid branch name: git refuses spaces, \"..\", \"~\", \"^\", \":\", \"?\", \"*\", \"[\", \"\\\", a leading \"-\" or \"/\", and a trailing \"/\", \".\" or \".lock\". Choose another name.", name)
}

// conflict explains "Reference update failed" for a valid name: git cannot
// hold both "a" and "a/b".
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
