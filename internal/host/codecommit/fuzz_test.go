package codecommit_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzAnswers: whatever CodeCommit and STS endpoints (or servers posing as
// them) answer, errors are bounded, clean and free of the access key.
func FuzzAnswers(f *testing.F) {
	hosttest.FuzzAnswers(f, func(u string) (host.Adapter, relay.HostConfig) {
		return codecommit.New(), relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{
			codecommit.OptRegion: "eu-west-1", codecommit.OptEndpoint: u, codecommit.OptSTSEndpoint: u}}
	}, relay.AccessKeyCredential("AKIAFUZZCANARY000001", "fuzzCANARYsecret/K7MDENG+bPxRfiCYEXAMPLEKEY"),
		`{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`,
		`{"__type":"AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: codecommit:CreateBranch `+hosttest.SecretMark+`"}`,
		`{"__type":"com.amazonaws.codecommit#BranchNameExistsException","message":"Branch name exists"}`,
		`{"__type":"ThrottlingException","message":"Rate exceeded"}`,
		`{"__type":"InvalidSignatureException","message":"Signature expired: 20240101T000000Z is now earlier than ..."}`,
		`{"__type":"SomethingNew","message":"\u001b[31mred\u0000"}`,
		`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>`,
		`<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`,
		`{"repositories":[{"repositoryName":"widgets","repositoryId":"42"}]}`,
		`{"repositoryMetadata":{"repositoryName":"widgets","repositoryId":"42","cloneUrlHttp":"javascript:alert(1)","defaultBranch":"main"}}`,
		`{"branch":{"branchName":"main","commitId":"0123456789abcdef0123456789abcdef01234567"}}`,
		`{"pullRequest":{"pullRequestId":"7","title":"x","pullRequestTargets":[{"sourceReference":"refs/heads/ABC-1-fix","destinationReference":"refs/heads/main"}]}}`,
	)
}
