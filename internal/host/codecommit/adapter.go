// Package codecommit is the host adapter for AWS CodeCommit (kind
// "codecommit"), built on the AWS SDK for Go v2 (service/codecommit and
// service/sts).
//
// A CodeCommit "personal access token" is an IAM user's access key pair:
// access key ID and secret access key. Requests are signed with SigV4 using
// only that pair: the adapter builds its aws.Config by hand and never
// loads the server's own AWS configuration (environment variables, shared
// files, instance roles), so that no action can ever run as whatever AWS
// identity the gitrelay server happens to have.
package codecommit

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Kind is the API value of the host kind this package serves.
const Kind relay.Kind = "codecommit"

// Integration options.
const (
	OptRegion      = "region"
	OptEndpoint    = "endpoint"     // CodeCommit endpoint override (VPC, FIPS, test servers)
	OptSTSEndpoint = "sts_endpoint" // STS endpoint override
)

// iamActions are the IAM actions gitrelay calls (GitPull: the index reads
// the repositories with git).
var iamActions = []string{
	"codecommit:ListRepositories",
	"codecommit:BatchGetRepositories",
	"codecommit:GetRepository",
	"codecommit:ListBranches",
	"codecommit:GetBranch",
	"codecommit:CreateBranch",
	"codecommit:DeleteBranch",
	"codecommit:CreatePullRequest",
	"codecommit:ListPullRequests",
	"codecommit:GetPullRequest",
	"codecommit:GitPull",
}

// IAMActions lists the IAM actions gitrelay calls. A key whose policies
// allow them on a repository can do everything gitrelay needs there.
func IAMActions() []string { return slices.Clone(iamActions) }

// AWS does not let a key read its own permissions, so RequiredScopes stays
// empty and TokenHelp names what the key's policies must allow.
var tokenHelp = "Use an IAM user's access key (access key ID and secret access key, not the root user's). " +
	"Its IAM policies must allow " + strings.Join(iamActions, ", ") + " on the repositories you work in. " +
	"AWS does not let gitrelay read a key's permissions, so a missing one shows when an action is refused."

// regionPattern accepts AWS region names such as eu-west-1, us-gov-west-1
// or cn-north-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// Option configures the adapter.
type Option func(*adapter)

// WithClock sets the clock that dates the git passwords the adapter
// derives (GitRemote); the real time by default.
func WithClock(now func() time.Time) Option { return func(a *adapter) { a.clock = now } }

// New returns the CodeCommit adapter.
func New(opts ...Option) host.Adapter {
	var a adapter
	for _, o := range opts {
		o(&a)
	}
	return a
}

type adapter struct {
	clock func() time.Time
}

func (adapter) Kind() relay.Kind { return Kind }

// CheckConfig takes no base URL; options.region is required, and
// options.endpoint and options.sts_endpoint optionally replace the public
// endpoints of the region.
func (adapter) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) {
	if cfg.Kind != "" && cfg.Kind != Kind {
		return relay.HostConfig{}, host.InvalidConfig("kind", fmt.Sprintf("This adapter serves %q, not %q.", Kind, cfg.Kind))
	}
	if strings.TrimSpace(cfg.BaseURL) != "" {
		return relay.HostConfig{}, host.InvalidConfig("base_url",
			`AWS CodeCommit needs no base URL: leave it empty and give the region as options.region (such as "eu-west-1"); a VPC or FIPS endpoint goes in options.endpoint.`)
	}
	for k := range cfg.Options {
		if k != OptRegion && k != OptEndpoint && k != OptSTSEndpoint {
			return relay.HostConfig{}, host.InvalidConfig("options",
				fmt.Sprintf("AWS CodeCommit does not know the option %q; it takes region, endpoint and sts_endpoint.", k))
		}
	}
	region := strings.ToLower(strings.TrimSpace(cfg.Options[OptRegion]))
	switch {
	case region == "":
		return relay.HostConfig{}, host.InvalidConfig("options", `Give the AWS region of the repositories as options.region, such as "eu-west-1".`)
	case !regionPattern.MatchString(region):
		return relay.HostConfig{}, host.InvalidConfig("options", fmt.Sprintf(`%q is not an AWS region name; give one such as "eu-west-1" or "us-east-2".`, cfg.Options[OptRegion]))
	}
	out := map[string]string{OptRegion: region}
	for _, k := range []string{OptEndpoint, OptSTSEndpoint} {
		raw := strings.TrimSpace(cfg.Options[k])
		if raw == "" {
			continue
		}
		u, err := host.ParseBaseURL(raw, "https://codecommit-fips."+region+".amazonaws.com")
		if err != nil {
			e, _ := relay.AsError(err)
			msg := "options." + k + ": " + e.Fields["base_url"]
			return relay.HostConfig{}, host.InvalidConfig("options", msg)
		}
		out[k] = u.String()
	}
	return relay.HostConfig{Kind: Kind, Options: out}, nil
}

func (adapter) Capabilities(relay.HostConfig) relay.Capabilities {
	return relay.Capabilities{PAT: true, Drafts: false, TokenHelp: tokenHelp}
}

// NewTokenURL is the IAM console's security credentials page, where a
// user creates an access key for themselves. AWS offers no pre-filling.
func (a adapter) NewTokenURL(cfg relay.HostConfig, _ string) string {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return ""
	}
	return "https://" + consoleHost(cfg.Options[OptRegion], false) + "/iam/home#/security_credentials"
}

// consoleHost is the AWS console's host for region's partition; regional
// asks for the region's own console host where the partition has one.
func consoleHost(region string, regional bool) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "console.amazonaws.cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "console.amazonaws-us-gov.com"
	case regional:
		return region + ".console.aws.amazon.com"
	}
	return "console.aws.amazon.com"
}

// NewClient builds SDK clients that sign with cred's access key pair
// only. It performs no I/O.
func (a adapter) NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return nil, err
	}
	id, secret := strings.TrimSpace(cred.AccessKeyID()), strings.TrimSpace(cred.SecretAccessKey())
	reject := func(msg string) (relay.HostClient, error) {
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: msg}
	}
	switch {
	case id == "" && secret == "" && cred.Token() != "":
		return reject("AWS CodeCommit takes an IAM access key ID and secret access key, not a token.")
	case id == "" || secret == "":
		return reject("Give both the access key ID and the secret access key of an IAM user's access key.")
	case !validKeyID(id):
		return reject("The access key ID is not one: it has 16 to 128 letters and digits, such as AKIAIOSFODNN7EXAMPLE. Copy it again.")
	case strings.IndexFunc(secret, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return reject("The secret access key contains spaces or control characters; copy it again and paste only the key.")
	}
	// Answers capped like every host's. No credential header to keep to an
	// origin: each request is signed (SigV4) for the host it goes to.
	hc = host.ClientFor(hc, nil)
	region := cfg.Options[OptRegion]
	// Built by hand, never with config.LoadDefaultConfig: nothing here reads
	// the server's AWS environment. The SDK's retries are off: they would
	// repeat a CreateBranch or CreatePullRequest whose connection broke
	// after AWS acted. Reads are retried by the client's transport, which
	// follows gitrelay's one policy for every host (host.RetryPolicy), for
	// the operations markReads marks as reads.
	awsCfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:  ownBodies{hc},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		APIOptions:  []func(*middleware.Stack) error{markReads},
		AppID:       "gitrelay",
	}
	ccCfg, stsCfg := awsCfg, awsCfg
	if e := cfg.Options[OptEndpoint]; e != "" {
		ccCfg.BaseEndpoint = aws.String(e)
	}
	if e := cfg.Options[OptSTSEndpoint]; e != "" {
		stsCfg.BaseEndpoint = aws.String(e)
	}
	return &hostClient{
		cc:      cc.NewFromConfig(ccCfg),
		sts:     sts.NewFromConfig(stsCfg),
		region:  region,
		name:    "AWS CodeCommit in " + region,
		console: "https://" + consoleHost(region, true) + "/codesuite/codecommit/repositories/",
		keyID:   host.NewSecret(id),
		secret:  host.NewSecret(secret),
	}, nil
}

func validKeyID(id string) bool {
	if len(id) < 16 || len(id) > 128 {
		return false
	}
	return !slices.ContainsFunc([]rune(id), func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9')
	})
}
