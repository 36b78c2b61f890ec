package hostsim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

const (
	ccKeyID  = "AKIAIOSFODNN7EXAMPLE"
	ccSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

type ccWorld struct {
	t   *testing.T
	sim *hostsim.Sim
	url string
}

func newCCWorld(t *testing.T) *ccWorld {
	sim := hostsim.New()
	srv := httptest.NewServer(sim.CodeCommit())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	sim.AddToken(hostsim.Token{Value: ccKeyID + ":" + ccSecret, Login: "mary"})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"mary"}})
	return &ccWorld{t: t, sim: sim, url: srv.URL}
}

// signed describes how a test request is signed.
type signed struct {
	keyID, secret string
	service       string
	at            time.Time
	tamper        bool // change the body after signing
	unsigned      bool
}

func (w *ccWorld) codecommit(op string, body any, s signed) (int, map[string]any) {
	w.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, w.url+"/", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "CodeCommit_20150413."+op)
	if s.service == "" {
		s.service = "codecommit"
	}
	status, raw := w.send(req, b, s)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		w.t.Fatalf("%s answered %d %q, not JSON", op, status, raw)
	}
	return status, out
}

func (w *ccWorld) sts(s signed) (int, string) {
	w.t.Helper()
	b := []byte("Action=GetCallerIdentity&Version=2011-06-15")
	req, _ := http.NewRequest(http.MethodPost, w.url+"/", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if s.service == "" {
		s.service = "sts"
	}
	status, raw := w.send(req, b, s)
	return status, string(raw)
}

func (w *ccWorld) send(req *http.Request, body []byte, s signed) (int, []byte) {
	w.t.Helper()
	if s.keyID == "" {
		s.keyID, s.secret = ccKeyID, ccSecret
	}
	if s.at.IsZero() {
		s.at = time.Now()
	}
	if !s.unsigned {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(w.t.Context(), aws.Credentials{AccessKeyID: s.keyID, SecretAccessKey: s.secret},
			req, hex.EncodeToString(sum[:]), s.service, "eu-west-1", s.at)
		if err != nil {
			w.t.Fatal(err)
		}
	}
	if s.tamper {
		tampered := bytes.Replace(body, []byte("widgets"), []byte("gadgets"), 1)
		req.Body = io.NopCloser(bytes.NewReader(tampered))
		req.ContentLength = int64(len(tampered))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func TestCodeCommitVerifiesSignatures(t *testing.T) {
	w := newCCWorld(t)
	body := map[string]any{"repositoryName": "widgets", "branchName": "main"}
	for _, tc := range []struct {
		name   string
		s      signed
		status int
		code   string
	}{
		{"signed with the key's secret", signed{}, 200, ""},
		{"signed with another secret", signed{keyID: ccKeyID, secret: "not-the-secret"}, 400, "InvalidSignatureException"},
		{"an unknown key", signed{keyID: "AKIAUNKNOWNEXAMPLE01", secret: ccSecret}, 400, "UnrecognizedClientException"},
		{"a body changed after signing", signed{tamper: true}, 400, "InvalidSignatureException"},
		{"signed for another service", signed{service: "s3"}, 400, "InvalidSignatureException"},
		{"signed twenty minutes ago", signed{at: time.Now().Add(-20 * time.Minute)}, 400, "InvalidSignatureException"},
		{"not signed", signed{unsigned: true}, 400, "MissingAuthenticationTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			status, out := w.codecommit("GetBranch", body, tc.s)
			if status != tc.status || (tc.code != "" && out["__type"] != tc.code) {
				t.Errorf("got %d %v, want %d %s", status, out, tc.status, tc.code)
			}
			if tc.code == "" {
				if b, _ := out["branch"].(map[string]any); b["commitId"] != w.sim.Branches("acme/widgets")["main"] {
					t.Errorf("GetBranch = %v, want the commit of main", out)
				}
			}
		})
	}
}

func TestCodeCommitRefusesRevokedAndExpiredKeys(t *testing.T) {
	w := newCCWorld(t)
	w.sim.AddToken(hostsim.Token{Value: "AKIAREVOKEDEXAMPLE01:revoked-secret", Login: "mary"})
	w.sim.AddToken(hostsim.Token{Value: "AKIAEXPIREDEXAMPLE01:expired-secret", Login: "mary"})
	w.sim.RevokeToken("AKIAREVOKEDEXAMPLE01:revoked-secret")
	w.sim.ExpireToken("AKIAEXPIREDEXAMPLE01:expired-secret")
	for _, tc := range []struct {
		s    signed
		code string
	}{
		{signed{keyID: "AKIAREVOKEDEXAMPLE01", secret: "revoked-secret"}, "UnrecognizedClientException"},
		{signed{keyID: "AKIAEXPIREDEXAMPLE01", secret: "expired-secret"}, "ExpiredTokenException"},
	} {
		if status, out := w.codecommit("ListRepositories", map[string]any{}, tc.s); status != 400 || out["__type"] != tc.code {
			t.Errorf("%s: got %d %v, want 400 %s", tc.s.keyID, status, out, tc.code)
		}
	}
}

func TestCodeCommitSTSAnswersInXML(t *testing.T) {
	w := newCCWorld(t)
	status, body := w.sts(signed{})
	if status != 200 || !strings.Contains(body, "<Arn>arn:aws:iam::"+hostsim.SimCallerAccount+":user/mary</Arn>") {
		t.Errorf("GetCallerIdentity = %d %s, want mary's ARN", status, body)
	}
	status, body = w.sts(signed{keyID: ccKeyID, secret: "wrong"})
	if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("GetCallerIdentity with a wrong secret = %d %s, want 403 SignatureDoesNotMatch", status, body)
	}
	status, body = w.sts(signed{keyID: "AKIAUNKNOWNEXAMPLE01", secret: "x"})
	if status != 403 || !strings.Contains(body, "<Code>InvalidClientTokenId</Code>") {
		t.Errorf("GetCallerIdentity with an unknown key = %d %s, want 403 InvalidClientTokenId", status, body)
	}
}

func TestCodeCommitEnforcesIAMActions(t *testing.T) {
	w := newCCWorld(t)
	w.sim.AddToken(hostsim.Token{Value: "AKIAREADONLYEXAMPLE1:ro-secret", Login: "mary", Scopes: []string{"codecommit:GetBranch"}})
	ro := signed{keyID: "AKIAREADONLYEXAMPLE1", secret: "ro-secret"}
	if status, _ := w.codecommit("GetBranch", map[string]any{"repositoryName": "widgets", "branchName": "main"}, ro); status != 200 {
		t.Errorf("an allowed action answered %d", status)
	}
	main := w.sim.Branches("acme/widgets")["main"]
	status, out := w.codecommit("CreateBranch", map[string]any{"repositoryName": "widgets", "branchName": "x", "commitId": main}, ro)
	if msg, _ := out["message"].(string); status != 400 || out["__type"] != "AccessDeniedException" || !strings.Contains(msg, "codecommit:CreateBranch") {
		t.Errorf("CreateBranch without the action = %d %v, want AccessDeniedException naming codecommit:CreateBranch", status, out)
	}
	// GetCallerIdentity needs no permission.
	if status, _ := w.sts(ro); status != 200 {
		t.Errorf("GetCallerIdentity answered %d to a key with few permissions", status)
	}
}

func TestCodeCommitWriteLogHoldsOnlyWrites(t *testing.T) {
	w := newCCWorld(t)
	main := w.sim.Branches("acme/widgets")["main"]
	w.sts(signed{})
	w.codecommit("ListRepositories", map[string]any{}, signed{})
	w.codecommit("GetBranch", map[string]any{"repositoryName": "widgets", "branchName": "main"}, signed{})
	if status, out := w.codecommit("CreateBranch", map[string]any{"repositoryName": "widgets", "branchName": "ABC-1", "commitId": main}, signed{}); status != 200 {
		t.Fatalf("CreateBranch = %d %v", status, out)
	}
	ws := w.sim.Writes()
	if len(ws) != 1 {
		t.Fatalf("write log = %+v, want only the branch creation", ws)
	}
	got := ws[0]
	if got.Op != hostsim.OpCreateBranch || got.Method != http.MethodPost || got.Repo != "acme/widgets" || got.Ref != "ABC-1" ||
		got.Login != "mary" || got.Token != hostsim.Fingerprint(ccKeyID+":"+ccSecret) || got.Status != 200 {
		t.Errorf("write = %+v", got)
	}
}

func TestCodeCommitPullRequestIDsAreUniqueAcrossRepositories(t *testing.T) {
	w := newCCWorld(t)
	w.sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gizmos", Writers: []string{"mary"}})
	ids := map[string]bool{}
	for _, repo := range []string{"widgets", "gizmos"} {
		w.sim.AddBranch("acme/"+repo, "ABC-1", "")
		status, out := w.codecommit("CreatePullRequest", map[string]any{"title": "ABC-1",
			"targets": []any{map[string]any{"repositoryName": repo, "sourceReference": "ABC-1", "destinationReference": "main"}}}, signed{})
		pr, _ := out["pullRequest"].(map[string]any)
		if status != 200 || pr == nil {
			t.Fatalf("CreatePullRequest in %s = %d %v", repo, status, out)
		}
		id := pr["pullRequestId"].(string)
		ids[id] = true
		status, out = w.codecommit("GetPullRequest", map[string]any{"pullRequestId": id}, signed{})
		got, _ := out["pullRequest"].(map[string]any)
		targets, _ := got["pullRequestTargets"].([]any)
		if status != 200 || len(targets) != 1 || targets[0].(map[string]any)["repositoryName"] != repo {
			t.Errorf("GetPullRequest(%s) = %d %v, want the pull request of %s", id, status, out, repo)
		}
	}
	if len(ids) != 2 {
		t.Errorf("pull request ids %v are not unique across repositories", ids)
	}
}

func TestAccessKeyPair(t *testing.T) {
	if id, secret := hostsim.AccessKeyPair("AKIAIOSFODNN7EXAMPLE:s3cr/et"); id != "AKIAIOSFODNN7EXAMPLE" || secret != "s3cr/et" {
		t.Errorf("AccessKeyPair(id:secret) = %q, %q", id, secret)
	}
	const value = "ghp_CANARYbobTOKEN0000000000000000000002"
	id, secret := hostsim.AccessKeyPair(value)
	again, _ := hostsim.AccessKeyPair(value)
	other, _ := hostsim.AccessKeyPair(value + "x")
	if secret != value || id != again || id == other || len(id) != 20 || !strings.HasPrefix(id, "AKIA") || strings.Contains(id, "CANARY") {
		t.Errorf("AccessKeyPair(%q) = %q, %q; want a stable 20-character key id revealing nothing, and the value as secret", value, id, secret)
	}
}
