package codecommit

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	cc "github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/gitrelay/gitrelay/internal/host"
)

// readOperations are the AWS operations gitrelay calls that only read,
// by service. Every AWS call is a POST, so the host retry policy cannot
// tell a read by its method: these are marked host.ReadOnly, and sent
// again after a transient fault. Every other operation (CreateBranch,
// DeleteBranch, CreatePullRequest) is sent once.
var readOperations = map[string]map[string]bool{
	cc.ServiceID: {
		"ListRepositories": true, "BatchGetRepositories": true, "GetRepository": true,
		"ListBranches": true, "GetBranch": true, "ListPullRequests": true, "GetPullRequest": true,
	},
	sts.ServiceID: {"GetCallerIdentity": true},
}

// markReads is an SDK option: it marks the requests of readOperations
// read-only for the host retry policy.
func markReads(stack *middleware.Stack) error {
	return stack.Build.Add(middleware.BuildMiddlewareFunc("gitrelayMarkReads",
		func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if readOperations[awsmiddleware.GetServiceID(ctx)][awsmiddleware.GetOperationName(ctx)] {
				ctx = host.ReadOnly(ctx, throttled)
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
}

// throttleCodes are the AWS error codes of a request refused for going
// too fast, which AWS answers with HTTP 400 rather than 429.
var throttleCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "TooManyRequestsException": true, "RequestLimitExceeded": true,
}

// throttled recognises AWS's throttling answers: HTTP 400 with a
// throttling code in an AWS JSON body ("__type", possibly prefixed with
// a namespace and "#") or a Query protocol XML body (<Code>).
func throttled(status int, body []byte) bool {
	if status != 400 {
		return false
	}
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '<' {
		var doc struct {
			Code  string `xml:"Error>Code"`
			Code2 string `xml:"Code"`
		}
		_ = xml.Unmarshal(b, &doc)
		return throttleCodes[doc.Code] || throttleCodes[doc.Code2]
	}
	var doc struct {
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &doc)
	return throttleCodes[awsCode(doc.Type)] || throttleCodes[awsCode(doc.Code)]
}

// awsCode is the bare code of an AWS JSON error type such as
// "com.amazonaws.codecommit#ThrottlingException:http://…".
func awsCode(t string) string {
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	t, _, _ = strings.Cut(t, ":")
	return t
}
