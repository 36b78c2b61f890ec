package codecommit_test

import (
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     relay.HostConfig
		want    map[string]string
		field   string // the field an error names; "" when valid
		problem string
	}{
		{name: "region only", cfg: relay.HostConfig{Options: map[string]string{"region": " EU-West-1 "}},
			want: map[string]string{"region": "eu-west-1"}},
		{name: "endpoint overrides are normalised", cfg: relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{
			"region": "us-east-1", "endpoint": "https://CodeCommit-FIPS.us-east-1.amazonaws.com/", "sts_endpoint": "https://sts-fips.us-east-1.amazonaws.com"}},
			want: map[string]string{"region": "us-east-1", "endpoint": "https://codecommit-fips.us-east-1.amazonaws.com", "sts_endpoint": "https://sts-fips.us-east-1.amazonaws.com"}},
		{name: "empty overrides are dropped", cfg: relay.HostConfig{Options: map[string]string{"region": "cn-north-1", "endpoint": " "}},
			want: map[string]string{"region": "cn-north-1"}},
		{name: "GovCloud region", cfg: relay.HostConfig{Options: map[string]string{"region": "us-gov-west-1"}},
			want: map[string]string{"region": "us-gov-west-1"}},
		{name: "no region", cfg: relay.HostConfig{}, field: "options", problem: "options.region"},
		{name: "not a region", cfg: relay.HostConfig{Options: map[string]string{"region": "Ireland"}}, field: "options", problem: "not an AWS region"},
		{name: "a base URL", cfg: relay.HostConfig{BaseURL: "https://codecommit.eu-west-1.amazonaws.com", Options: map[string]string{"region": "eu-west-1"}},
			field: "base_url", problem: "needs no base URL"},
		{name: "an unknown option", cfg: relay.HostConfig{Options: map[string]string{"region": "eu-west-1", "profile": "prod"}},
			field: "options", problem: `"profile"`},
		{name: "an endpoint that is not a URL", cfg: relay.HostConfig{Options: map[string]string{"region": "eu-west-1", "endpoint": "codecommit.local"}},
			field: "options", problem: "options.endpoint"},
		{name: "an endpoint with credentials", cfg: relay.HostConfig{Options: map[string]string{"region": "eu-west-1", "sts_endpoint": "https://u:p@sts.local"}},
			field: "options", problem: "options.sts_endpoint"},
		{name: "another kind", cfg: relay.HostConfig{Kind: "github", Options: map[string]string{"region": "eu-west-1"}}, field: "kind", problem: "codecommit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := codecommit.New().CheckConfig(tc.cfg)
			if tc.field == "" {
				if err != nil || got.Kind != codecommit.Kind || got.BaseURL != "" || !reflect.DeepEqual(got.Options, tc.want) {
					t.Fatalf("CheckConfig = %+v, %v; want options %v", got, err, tc.want)
				}
				again, err := codecommit.New().CheckConfig(got)
				if err != nil || !reflect.DeepEqual(again, got) {
					t.Errorf("CheckConfig is not idempotent: %+v, %v", again, err)
				}
				return
			}
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid || !strings.Contains(e.Fields[tc.field], tc.problem) {
				t.Errorf("CheckConfig = %v; want invalid_request with %s mentioning %q", err, tc.field, tc.problem)
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	caps := codecommit.New().Capabilities(relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": "eu-west-1"}})
	if !caps.PAT || caps.Drafts || len(caps.RequiredScopes) != 0 {
		t.Errorf("Capabilities = %+v, want access keys, no drafts, no readable scopes", caps)
	}
	for _, action := range codecommit.IAMActions() {
		if !strings.Contains(caps.TokenHelp, action) {
			t.Errorf("TokenHelp does not name %s", action)
		}
	}
}

func TestNewTokenURLOpensTheIAMConsoleOfThePartition(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1":     "https://console.aws.amazon.com/iam/home#/security_credentials",
		"cn-north-1":    "https://console.amazonaws.cn/iam/home#/security_credentials",
		"us-gov-west-1": "https://console.amazonaws-us-gov.com/iam/home#/security_credentials",
		"":              "", // invalid settings: no link
	} {
		got := codecommit.New().NewTokenURL(relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": region}}, "gitrelay ABC-1")
		if got != want {
			t.Errorf("NewTokenURL(%q) = %q, want %q", region, got, want)
		}
	}
}

func TestNewClientRefusesUnusableKeys(t *testing.T) {
	cfg := relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": "eu-west-1"}}
	for _, tc := range []struct {
		name string
		cred relay.Credential
		says string
	}{
		{"nothing", relay.Credential{}, "both"},
		{"a token instead of keys", relay.TokenCredential("ghp_CANARYtoken000000000000000000000001"), "not a token"},
		{"no secret", relay.AccessKeyCredential("AKIAIOSFODNN7EXAMPLE", ""), "both"},
		{"no key id", relay.AccessKeyCredential("", "CANARYsecret"), "both"},
		{"a key id with spaces", relay.AccessKeyCredential("AKIA IOSF ODNN 7EXAMPLE", "CANARYsecret"), "access key ID"},
		{"a secret with a line break", relay.AccessKeyCredential("AKIAIOSFODNN7EXAMPLE", "CANARY\nsecret"), "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := codecommit.New().NewClient(cfg, tc.cred, nil)
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.ECredentialRejected || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("NewClient = %v, want credential_rejected saying %q", err, tc.says)
			}
			if strings.Contains(e.Message, "CANARY") {
				t.Errorf("the message shows the credential: %s", e.Message)
			}
		})
	}
}

// recorder answers every request with an empty CodeCommit answer and
// remembers where it went and how it was signed, without a network.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	body := `{"branch":{"branchName":"main","commitId":"317f8570EXAMPLE"}}`
	ct := "application/x-amz-json-1.1"
	if req.Header.Get("X-Amz-Target") == "" {
		ct = "text/xml"
		body = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/mary-major</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}}, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// The server's own AWS environment is never read: not its keys, session
// token or profile, not its region, not its endpoint overrides.
func TestNewClientIgnoresTheServersAWSEnvironment(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTCANARY0001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "ambient-CANARY-secret")
	t.Setenv("AWS_SESSION_TOKEN", "ambient-CANARY-session")
	t.Setenv("AWS_PROFILE", "server")
	t.Setenv("AWS_REGION", "ap-southeast-2")
	t.Setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
	t.Setenv("AWS_ENDPOINT_URL", "https://elsewhere.example.com")
	t.Setenv("AWS_ENDPOINT_URL_CODECOMMIT", "https://elsewhere.example.com")
	t.Setenv("AWS_ENDPOINT_URL_STS", "https://elsewhere.example.com")
	t.Setenv("AWS_USE_FIPS_ENDPOINT", "true")

	cfg := relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": "eu-west-1"}}
	if _, err := codecommit.New().NewClient(cfg, relay.Credential{}, nil); relay.ErrorCode(err) != relay.ECredentialRejected {
		t.Fatalf("NewClient without keys = %v, want credential_rejected (no fallback to the environment)", err)
	}

	rec := &recorder{}
	c, err := codecommit.New().NewClient(cfg, relay.AccessKeyCredential("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/CANARY"),
		&http.Client{Transport: rec, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Branch(t.Context(), relay.Repository{ID: "MyDemoRepo"}, "main"); err != nil {
		t.Fatal(err)
	}
	wantHosts := []string{"sts.eu-west-1.amazonaws.com", "codecommit.eu-west-1.amazonaws.com"}
	if len(rec.reqs) != len(wantHosts) {
		t.Fatalf("%d requests, want %d", len(rec.reqs), len(wantHosts))
	}
	for i, req := range rec.reqs {
		if req.URL.Scheme != "https" || req.URL.Host != wantHosts[i] {
			t.Errorf("request %d went to %s, want https://%s (the region's public endpoint)", i, req.URL, wantHosts[i])
		}
		auth := req.Header.Get("Authorization")
		if !strings.Contains(auth, "Credential=AKIAIOSFODNN7EXAMPLE/") || !strings.Contains(auth, "/eu-west-1/") {
			t.Errorf("request %d signed as %q, want the given key in eu-west-1", i, auth)
		}
		if req.Header.Get("X-Amz-Security-Token") != "" {
			t.Errorf("request %d carries the server's session token", i)
		}
	}
}

// host.Adapter is what the registry takes.
var _ host.Adapter = codecommit.New()
