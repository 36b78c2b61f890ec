package azure_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzAnswers: whatever Azure DevOps (or a server posing as it) answers,
// errors are bounded, clean and free of the token.
func FuzzAnswers(f *testing.F) {
	hosttest.FuzzAnswers(f, func(u string) (host.Adapter, relay.HostConfig) {
		return azure.Services(), relay.HostConfig{Kind: azure.KindServices, BaseURL: u + "/fabrikam"}
	}, relay.TokenCredential("fuzzCANARY0123456789abcdefghijklmnopqrstuvwxyz0123"),
		`{"$id":"1","message":"TF400813: The user is not authorized to access this resource.","typeName":"Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException","typeKey":"UnauthorizedRequestException","errorCode":0,"eventId":3000}`,
		`{"message":"TF401027: You need the Git 'CreateBranch' permission to perform this action. `+hosttest.SecretMark+`","typeKey":"GitNeedsPermissionException"}`,
		`{"message":"TF401179: An active pull request for the source and target branch already exists.","typeKey":"GitPullRequestExistsException"}`,
		`{"message":"TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource"}`,
		`{"message":"TF401398: The pull request cannot be activated because the source and/or the target branch no longer exists"}`,
		`{"value":[{"name":"refs/heads/ABC-1-fix","oldObjectId":"0000000000000000000000000000000000000000","newObjectId":"0123456789abcdef0123456789abcdef01234567","success":false,"updateStatus":"invalidRefName","customMessage":"\u0000\r\nforged line"}],"count":1}`,
		`{"authenticatedUser":{"id":"1","providerDisplayName":"Alice","properties":{"Account":{"$value":"alice@example.com"}}}}`,
		`{"value":[{"id":"2f3b8c1a-0000-4000-8000-000000000042","name":"widgets","project":{"name":"acme"},"webUrl":"javascript:alert(1)","defaultBranch":"refs/heads/main"}],"count":1}`,
		`{"id":"2f3b8c1a-0000-4000-8000-000000000042","name":"widgets","project":{"name":"acme"},"webUrl":"data:text/html,x"}`,
		`{"value":[{"pullRequestId":7,"title":"x","sourceRefName":"refs/heads/ABC-1-fix","targetRefName":"refs/heads/main","repository":{"webUrl":"//evil.example"}}],"count":1}`,
	)
}
