package azure

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
	opListRepos
	opPermissions
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
	opValidate:     "check the credential",
	opListRepos:    "list repositories",
	opPermissions:  "check repository permissions",
	opGetRepo:      "read the repository",
	opListBranches: "list branches",
	opGetBranch:    "read the branch",
	opCreateBranch: "create the branch",
	opDeleteBranch: "delete the branch",
	opCreatePR:     "create the pull request",
	opFindPR:       "look for pull requests",
	opListHooks:    "list the service hook subscriptions",
	opCreateHook:   "create the service hook subscription",
	opUpdateHook:   "update the service hook subscription",
}

func (o op) writes() bool {
	return o == opCreateBranch || o == opDeleteBranch || o == opCreatePR || o == opCreateHook || o == opUpdateHook
}

func (o op) hooks() bool { return o == opListHooks || o == opCreateHook || o == opUpdateHook }

// hookNeeds is what managing service hooks takes on Azure DevOps and TFS.
const hookNeeds = "the integration account needs the View and Edit subscriptions permissions of service hooks in the project (Project Administrators have them), and its token the Service Hooks (Read & write) scope, vso.hooks_write"

// call describes a request for the error message.
type call struct {
	op     op
	repo   string // project/name, or the id
	branch string // the branch, or a pull request's source
	target string // a pull request's target, or a new branch's base sha
	url    string // the branch's web page, for EBranchExists
	draft  bool   // a draft pull request was asked for
}

func (k call) in() string {
	if k.repo == "" {
		return ""
	}
	return " in " + k.repo
}

// apiError is the body of an Azure DevOps error answer.
type apiError struct {
	Message   string `json:"message"`
	TypeName  string `json:"typeName"`
	TypeKey   string `json:"typeKey"`
	ErrorCode int    `json:"errorCode"`
	EventID   int    `json:"eventId"`
}

// fromResponse maps an error answer, as listed in hosts.md.
func (c *hostClient) fromResponse(status int, h http.Header, raw []byte, k call) *relay.Error {
	var ae apiError
	if !isHTML(h) {
		_ = json.Unmarshal(raw, &ae)
	}
	said := ae.Message
	switch {
	case status == http.StatusUnauthorized:
		return c.rejected(said)
	case status == http.StatusTooManyRequests,
		strings.Contains(said, "TF400733"),
		status == http.StatusServiceUnavailable && h.Get("Retry-After") != "" && h.Get("X-RateLimit-Resource") != "":
		d, _ := host.RetryAfter(h, time.Now())
		return host.RateLimited(c.name, d)
	case status >= 500:
		return host.StatusError(c.name, status, h, time.Now())
	case status == http.StatusForbidden && k.op.hooks():
		return &relay.Error{Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s (%s): %s.", c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "forbidden"), hookNeeds)}
	case status == http.StatusBadRequest && k.op.hooks():
		return relay.Errorf(relay.EInvalid, "%s refused to %s%s: %s.", c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "400 Bad Request"))
	case status == http.StatusForbidden:
		return &relay.Error{
			Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s: %s. The account needs the Contribute permission on the repository (and Create branch, Contribute to pull requests), and a token needs the Code (Read & write) scope.",
				c.name, verbs[k.op], k.in(), orDefault(host.Quote(said), "forbidden")),
		}
	case status == http.StatusNotFound:
		return c.notFound(k)
	case status == http.StatusConflict && k.op == opCreatePR &&
		(ae.TypeKey == "GitPullRequestExistsException" || strings.Contains(said, "TF401179")):
		return relay.Errorf(relay.EPullRequestExists, "A pull request from %q to %q already exists in %s.", k.branch, k.target, k.repo)
	case k.op == opCreatePR && (strings.Contains(said, "TF401398") || ae.TypeKey == "GitPullRequestCannotBeActivated"):
		return relay.Errorf(relay.ENotFound, "The source branch %q or the target branch %q does not exist in %s.", k.branch, k.target, k.repo)
	case k.op == opCreatePR && k.draft && strings.Contains(strings.ToLower(said), "draft"):
		return relay.Errorf(relay.EDraftUnsupported, "%s does not accept draft pull requests; create it as a regular pull request.", k.repo)
	case k.op == opCreateBranch && (strings.Contains(said, "TF401035") || strings.Contains(said, "TF401175")):
		return relay.Errorf(relay.ENotFound, "The base commit %s does not exist in %s; choose the base branch again.", k.target, k.repo)
	case k.op == opCreateBranch && !host.ValidBranchName(k.branch):
		return invalidName(k.branch)
	}
	return relay.Errorf(relay.EHostError, "%s answered HTTP %d %s when asked to %s%s; try again, and tell an administrator if it keeps happening.",
		c.name, status, orDefault(host.Quote(said), http.StatusText(status)), verbs[k.op], k.in())
}

// rejected is the error for a credential the host refused; hostSays is
// its explanation, if any.
func (c *hostClient) rejected(hostSays string) *relay.Error {
	if c.pat {
		return host.CredentialRejected(c.name, hostSays)
	}
	return &relay.Error{Code: relay.ECredentialRejected, Message: fmt.Sprintf(
		"%s rejected the user name or password%s. Check them (and that the server accepts Basic authentication), then save them again.",
		c.name, parenthesised(host.Quote(hostSays)))}
}

// refRefused explains a ref update the host answered 200 but did not do.
func (c *hostClient) refRefused(res refUpdateResult, k call) *relay.Error {
	said := host.Quote(res.CustomMessage)
	because := ""
	if said != "" {
		because = " (" + said + ")"
	}
	switch res.UpdateStatus {
	case "staleOldObjectId":
		if k.op == opCreateBranch {
			return &relay.Error{Code: relay.EBranchExists, Message: fmt.Sprintf("A branch named %q already exists in %s.", k.branch, k.repo), URL: k.url}
		}
		return relay.Errorf(relay.EConflict, "The branch %q in %s moved while gitrelay was deleting it; look at it, then try again.", k.branch, k.repo)
	case "succeededNonExistentRef":
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s; it may have been deleted already.", k.branch, k.repo)
	case "invalidRefName":
		return invalidName(k.branch)
	case "refNameConflict":
		return conflict(k.branch)
	case "unresolvableToCommit":
		return relay.Errorf(relay.ENotFound, "The base commit %s does not exist in %s; choose the base branch again.", k.target, k.repo)
	case "createBranchPermissionRequired", "writePermissionRequired", "forcePushRequired", "manageNotePermissionRequired":
		need := map[string]string{
			"createBranchPermissionRequired": "Create branch",
			"writePermissionRequired":        "Contribute",
			"forcePushRequired":              "Force push (rewrite history, delete branches)",
			"manageNotePermissionRequired":   "Manage notes",
		}[res.UpdateStatus]
		return &relay.Error{
			Code: relay.EScopeMissing,
			Message: fmt.Sprintf("%s refused to %s%s: the account lacks the Git %q permission on the repository%s. Ask a project administrator for it.",
				c.name, verbs[k.op], k.in(), need, because),
		}
	case "locked":
		return relay.Errorf(relay.EForbidden, "The branch %q in %s is locked; its owner or an administrator must unlock it first.", k.branch, k.repo)
	case "rejectedByPolicy", "rejectedByPlugin":
		if k.op == opCreateBranch {
			return relay.Errorf(relay.EInvalidBranchName, "%s refused the branch name %q by a repository policy%s. Choose a name the policy allows.", c.name, k.branch, because)
		}
		return relay.Errorf(relay.EForbidden, "%s refused to %s%s by a repository policy%s.", c.name, verbs[k.op], k.in(), because)
	}
	return relay.Errorf(relay.EHostError, "%s did not %s%s (%s)%s; try again, and tell an administrator if it keeps happening.",
		c.name, verbs[k.op], k.in(), orDefault(res.UpdateStatus, "no reason given"), because)
}

// scopeMissing explains a 401 for a credential that is still valid: a
// token without the scope the call needs.
func (c *hostClient) scopeMissing(k call) *relay.Error {
	if k.op.hooks() {
		return &relay.Error{Code: relay.EScopeMissing, Scope: "vso.hooks_write",
			Message: fmt.Sprintf("%s accepted the token but not to %s%s: %s.", c.name, verbs[k.op], k.in(), hookNeeds)}
	}
	scope := "vso.code"
	if k.op.writes() {
		scope = "vso.code_write"
	}
	return &relay.Error{
		Code:  relay.EScopeMissing,
		Scope: scope,
		Message: fmt.Sprintf("%s accepted the token but not to %s%s: the token lacks the Code (%s) scope (%s). Create a token with Code (Read & write).",
			c.name, verbs[k.op], k.in(), map[bool]string{true: "Read & write", false: "Read"}[k.op.writes()], scope),
	}
}

// notFound words a 404, which Azure DevOps also answers for repositories
// the account may not read (TF401019).
func (c *hostClient) notFound(k call) *relay.Error {
	switch k.op {
	case opValidate, opListRepos, opPermissions:
		return relay.Errorf(relay.EHostError, "%s answered Not Found when asked to %s; an administrator should check the integration's address (organization, or server, suffix and collection).", c.name, verbs[k.op])
	case opGetBranch:
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s.", k.branch, k.repo)
	}
	return relay.Errorf(relay.ENotFound, "The repository %s was not found on %s, or the account cannot see it.", orDefault(k.repo, "you asked for"), c.name)
}

func parenthesised(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func invalidName(name string) *relay.Error {
	return relay.Errorf(relay.EInvalidBranchName,
		"%q is not a valid branch name: git refuses spaces, \"..\", \"~\", \"^\", \":\", \"?\", \"*\", \"[\", \"\\\", a leading \"-\" or \"/\", and a trailing \"/\", \".\" or \".lock\". Choose another name.", name)
}

// conflict explains refNameConflict: git cannot hold both "a" and "a/b".
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
