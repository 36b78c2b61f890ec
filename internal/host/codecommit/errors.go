package codecommit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

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
	opBatchGetRepos
	opGetPR
)

var verbs = map[op]string{
	opValidate:      "check the access key",
	opListRepos:     "list repositories",
	opGetRepo:       "read the repository",
	opListBranches:  "list branches",
	opGetBranch:     "read the branch",
	opCreateBranch:  "create the branch",
	opDeleteBranch:  "delete the branch",
	opCreatePR:      "create the pull request",
	opFindPR:        "look for pull requests",
	opBatchGetRepos: "read the repositories",
	opGetPR:         "read a pull request",
}

// call describes a failed request for the error message.
type call struct {
	op     op
	repo   string // repository name
	branch string // the branch, or a pull request's source
	target string // a pull request's target, or a new branch's base commit
	url    string // the branch's console page, for EBranchExists
}

func (k call) in() string {
	if k.repo == "" {
		return ""
	}
	return " in " + k.repo
}

// fail turns an SDK error into a *relay.Error without any part of the
// key.
func (c *hostClient) fail(err error, start time.Time, k call) error {
	return c.redact(c.classify(err, time.Since(start), k))
}

func (c *hostClient) redact(e *relay.Error) *relay.Error {
	return host.Redact(e, c.secret.Reveal(), c.keyID.Reveal())
}

func (c *hostClient) classify(err error, elapsed time.Duration, k call) *relay.Error {
	if e, ok := relay.AsError(err); ok {
		return e
	}
	var (
		apiErr  smithy.APIError
		respErr *awshttp.ResponseError
		status  int
		header  http.Header
	)
	if errors.As(err, &respErr) && respErr.Response != nil && respErr.Response.Response != nil {
		status, header = respErr.HTTPStatusCode(), respErr.Response.Header
	}
	wrap := func(e *relay.Error) *relay.Error {
		e.Err = err
		return e
	}
	switch {
	case errors.As(err, new(*host.BodyTooLargeError)), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		// While reading the answer: not the host's answer, but how it
		// was read.
		return host.TransportError(c.name, err, elapsed)
	case errors.As(err, &apiErr):
		return wrap(c.fromAPI(apiErr.ErrorCode(), apiErr.ErrorMessage(), status, header, k))
	case status >= 500:
		return wrap(host.StatusError(c.name, status, header, time.Now()))
	case status != 0:
		return wrap(relay.Errorf(relay.EHostError, "%s answered HTTP %d when asked to %s%s; an administrator should check the integration's region and endpoint.",
			c.name, status, verbs[k.op], k.in()))
	}
	return host.TransportError(c.name, err, elapsed)
}

// iamAction is the IAM action a call needs, for messages and Scope.
var iamAction = map[op]string{
	opListRepos:     "codecommit:ListRepositories",
	opGetRepo:       "codecommit:GetRepository",
	opListBranches:  "codecommit:ListBranches",
	opGetBranch:     "codecommit:GetBranch",
	opCreateBranch:  "codecommit:CreateBranch",
	opDeleteBranch:  "codecommit:DeleteBranch",
	opCreatePR:      "codecommit:CreatePullRequest",
	opFindPR:        "codecommit:ListPullRequests",
	opBatchGetRepos: "codecommit:BatchGetRepositories",
	opGetPR:         "codecommit:GetPullRequest",
}

// fromAPI maps an AWS error code (CodeCommit's or STS's), as listed in
// hosts.md.
func (c *hostClient) fromAPI(code, said string, status int, h http.Header, k call) *relay.Error {
	// The code is the host's text too: known codes pass unchanged, and
	// anything else is quoted back only cleaned and bounded.
	code = host.Sanitize(code)
	hostSays := host.Quote(said)
	if throttleCodes[code] {
		// CodeCommit says nothing of how long to wait; a Retry-After from a
		// proxy in between is honoured.
		d, _ := host.RetryAfter(h, time.Now())
		return host.RateLimited(c.name, d)
	}
	switch code {
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
		"ExpiredTokenException", "ExpiredToken", "MissingAuthenticationTokenException", "MissingAuthenticationToken",
		"IncompleteSignature", "IncompleteSignatureException":
		if strings.Contains(said, "Signature expired") || strings.Contains(said, "Signature not yet current") {
			// The key is fine: the gitrelay server's clock is not.
			return relay.Errorf(relay.EHostError, "%s refused the request's signature as made at the wrong time (%s): the clock of the gitrelay server is off. An administrator should synchronise it (NTP).", c.name, hostSays)
		}
		return &relay.Error{Code: relay.ECredentialRejected, Message: fmt.Sprintf(
			"%s rejected the access key (%s): it was deleted or deactivated, the secret access key does not match the access key ID, or it was mistyped. Create a new access key in the IAM console and save it.",
			c.name, orDefault(hostSays, code))}
	case "AccessDeniedException", "AccessDenied":
		action := iamAction[k.op]
		return &relay.Error{Code: relay.EScopeMissing, Scope: action, Message: fmt.Sprintf(
			"The access key's IAM policies do not allow it to %s%s (%s says %s). The IAM user needs %s on the repository; ask an AWS administrator.",
			verbs[k.op], k.in(), c.name, orDefault(hostSays, code), orDefault(action, "the CodeCommit permissions gitrelay lists"))}
	case "RepositoryDoesNotExistException":
		return relay.Errorf(relay.ENotFound, "There is no repository %s in %s, or the access key belongs to another AWS account.", orDefault(k.repo, "of that name"), c.name)
	case "BranchDoesNotExistException":
		return notFoundBranch(k)
	case "BranchNameExistsException":
		return &relay.Error{Code: relay.EBranchExists, URL: k.url, Message: fmt.Sprintf("A branch named %q already exists in %s.", k.branch, k.repo)}
	case "CommitIdDoesNotExistException", "CommitDoesNotExistException", "InvalidCommitIdException":
		return relay.Errorf(relay.ENotFound, "The base commit %s does not exist in %s; choose the base branch again.", k.target, k.repo)
	case "DefaultBranchCannotBeDeletedException":
		return relay.Errorf(relay.EInvalid, "%q is the default branch of %s, which CodeCommit does not delete. Change the default branch in the console first if it really should go.", k.branch, k.repo)
	case "InvalidBranchNameException", "BranchNameIsTagNameException", "InvalidReferenceNameException":
		if k.op == opCreateBranch {
			if !host.ValidBranchName(k.branch) {
				return invalidName(k.branch)
			}
			return conflict(k.branch, hostSays)
		}
		return notFoundBranch(k)
	case "ReferenceDoesNotExistException", "ReferenceNameRequiredException":
		return relay.Errorf(relay.ENotFound, "The branch %q or %q does not exist in %s.", k.branch, k.target, k.repo)
	case "SourceAndDestinationAreSameException":
		return relay.Errorf(relay.EInvalid, "There is nothing to propose: %q and %q are the same. Push a commit to %q first.", k.branch, k.target, k.branch)
	case "PullRequestDoesNotExistException":
		return relay.Errorf(relay.ENotFound, "A pull request of %s disappeared while gitrelay read it; try again.", k.repo)
	case "MaximumOpenPullRequestsExceededException":
		return relay.Errorf(relay.EInvalid, "%s has as many open pull requests as CodeCommit allows; close some first.", k.repo)
	case "TitleRequiredException", "InvalidTitleException", "TitleTooLongException", "InvalidDescriptionException":
		return relay.Errorf(relay.EInvalid, "%s refused the pull request's title or description: %s.", c.name, orDefault(hostSays, code))
	case "EncryptionKeyAccessDeniedException", "EncryptionKeyDisabledException", "EncryptionKeyNotFoundException", "EncryptionKeyUnavailableException":
		return relay.Errorf(relay.EHostError, "%s cannot use the KMS key that encrypts %s (%s); an AWS administrator must fix the key or its permissions.", c.name, orDefault(k.repo, "the repository"), code)
	case "ServiceUnavailableException", "InternalFailure", "InternalServerError", "InternalFailureException":
		return relay.Errorf(relay.EHostError, "%s had a problem answering (%s); try again in a minute. If it keeps failing, check the AWS Health Dashboard.", c.name, code)
	}
	if status >= 500 {
		return host.StatusError(c.name, status, h, time.Now())
	}
	return relay.Errorf(relay.EHostError, "%s refused to %s%s: %s (%s). Try again, and tell an administrator if it keeps happening.",
		c.name, verbs[k.op], k.in(), orDefault(hostSays, "no reason given"), code)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func notFoundBranch(k call) *relay.Error {
	if k.op == opDeleteBranch {
		return relay.Errorf(relay.ENotFound, "There is no branch %q in %s; it may have been deleted already.", k.branch, k.repo)
	}
	return relay.Errorf(relay.ENotFound, "There is no branch %q in %s.", k.branch, k.repo)
}

func invalidName(name string) *relay.Error {
	return relay.Errorf(relay.EInvalidBranchName,
		"%q is not a valid branch name: git refuses spaces, \"..\", \"~\", \"^\", \":\", \"?\", \"*\", \"[\", \"\\\", a leading \"-\" or \"/\", and a trailing \"/\", \".\" or \".lock\". Choose another name.", name)
}

// conflict explains a refused valid name: git cannot hold both "a" and
// "a/b".
func conflict(name, hostSays string) *relay.Error {
	examples := []string{fmt.Sprintf("%q", name+"/…")}
	for i, r := range name {
		if r == '/' {
			examples = append(examples, fmt.Sprintf("%q", name[:i]))
		}
	}
	said := ""
	if hostSays != "" {
		said = " AWS CodeCommit says " + hostSays + "."
	}
	return relay.Errorf(relay.EInvalidBranchName,
		"The branch name %q was refused; it may conflict with an existing branch such as %s: git cannot have both \"a\" and \"a/b\".%s Choose another name.",
		name, strings.Join(examples, " or "), said)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
