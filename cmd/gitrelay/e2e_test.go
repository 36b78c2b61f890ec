package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/logbuf"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// binary is gitrelay built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gitrelay-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gitrelay")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gitrelay: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `gitrelay serve`.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	stdout *logbuf.Buffer
	stderr *logbuf.Buffer
	env    []string
}

// gitrelay runs a CLI command to completion.
func gitrelay(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func mustGitrelay(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := gitrelay(t, env, args...)
	if err != nil {
		t.Fatalf("gitrelay %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var listening = regexp.MustCompile(`gitrelay listening on (http://\S+)`)

// serve starts `gitrelay serve` on a free port and waits until it listens.
func serve(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	return startServe(t, env, args...).wait()
}

// startServe starts `gitrelay serve` on a free port without waiting: wait
// waits until it listens. Several started at once race for real.
func startServe(t testing.TB, env []string, args ...string) *startingProc {
	t.Helper()
	p := &proc{t: t, stdout: &logbuf.Buffer{}, stderr: &logbuf.Buffer{}, env: env}
	p.cmd = exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = env
	pr, pw := io.Pipe()
	p.cmd.Stdout = io.MultiWriter(p.stdout, pw)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	return &startingProc{p: p, found: found}
}

type startingProc struct {
	p     *proc
	found chan string
}

func (s *startingProc) wait() *proc {
	p := s.p
	p.t.Helper()
	select {
	case p.url = <-s.found:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("gitrelay did not start:\nstdout: %s\nstderr: %s", p.stdout, p.stderr)
	}
	return p
}

func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Errorf("gitrelay serve exited with %v\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		p.t.Error("gitrelay serve did not stop on SIGTERM")
	}
}

func (p *proc) do(method, path, token string, body any) (int, map[string]any, http.Header) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, m, resp.Header
}

// migratedData is a data directory `gitrelay migrate` made, the
// environment that names it, and the database in it, open: a test writes
// rows as a running server would have, closes it, then runs a command.
func migratedData(t *testing.T) (string, []string, *store.DB) {
	t.Helper()
	data := t.TempDir()
	env := baseEnv("GITRELAY_DATA=" + data)
	mustGitrelay(t, env, "migrate")
	db, err := store.Open(context.Background(), store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return data, env, db
}

func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

const (
	botPAT = "ghp_E2EbotCANARY000000000000000000000001"
	bobPAT = "ghp_E2EbobCANARY000000000000000000000002"
)

// TestServeEndToEnd boots `gitrelay serve` as a process with a temporary
// data directory and drives the API contract against the simulator.
func TestServeEndToEnd(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			data := t.TempDir()
			env := baseEnv("GITRELAY_DATA=" + data)
			if dialect == "postgres" {
				env = append(env, "GITRELAY_DATABASE_URL="+storetest.EmptyPostgresURL(t))
				// With Postgres, no key means no start.
				out, err := gitrelay(t, env, "serve", "--addr", "127.0.0.1:0")
				if err == nil || !strings.Contains(out, "GITRELAY_SECRET_KEY") {
					t.Fatalf("serve without a key on Postgres: err %v, output %s", err, out)
				}
				env = append(env, "GITRELAY_SECRET_KEY=bXlzZWNyZXRrZXlteXNlY3JldGtleW15c2VjcmV0a2U=")
			}
			sim := hostsim.New()
			defer sim.Close()
			hs := httptest.NewServer(sim.Handler())
			defer hs.Close()
			sim.AddToken(hostsim.Token{Value: botPAT, Login: "bot", Scopes: []string{"repo"}})
			sim.AddToken(hostsim.Token{Value: bobPAT, Login: "bob-gh", Scopes: []string{"repo"}})
			repo := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "api", Private: true, Writers: []string{"bot", "bob-gh"}})
			repoID := fmt.Sprint(repo.ID)

			// The simulated host listens on the loopback interface, which
			// the egress policy refuses unless allowed; the flag wins over
			// the environment.
			p := serve(t, append(env, "GITRELAY_EGRESS_ALLOW=192.0.2.0/24"), "--egress-allow", "127.0.0.0/8")
			if !strings.Contains(p.stdout.String(), `Created administrator "admin". Password (shown once): `) {
				t.Fatalf("no admin password printed: %s", p.stdout)
			}
			if dialect == "sqlite" {
				info, err := os.Stat(filepath.Join(data, "secret.key"))
				if err != nil || info.Mode().Perm() != 0o600 {
					t.Fatalf("secret key file: %v %v", info, err)
				}
			}
			mustGitrelay(t, env, "projects", "add", "ABC", "--name", "Alpha")
			mustGitrelay(t, env, "users", "add", "bob", "--name", "Bob", "--email", "bob@example.com")
			mustGitrelay(t, env, "projects", "grant", "ABC", "bob")
			admin := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "admin"))
			bob := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "bob"))

			status, body, _ := p.do("GET", "/healthz", "", nil)
			if status != 200 || body["status"] != "ok" {
				t.Fatalf("healthz: %d %v", status, body)
			}
			if status, _, _ = p.do("GET", "/readyz", "", nil); status != 200 {
				t.Fatalf("readyz: %d", status)
			}
			status, body, _ = p.do("POST", "/api/v1/integrations", admin, map[string]any{
				"kind": "github-enterprise", "name": "GHE", "base_url": hs.URL,
				"credential": map[string]string{"token": botPAT}, "require_user_pat": true, "projects": nil})
			if status != 201 {
				t.Fatalf("create integration: %d %v", status, body)
			}
			id := body["id"].(string)
			if _, ok := body["credential"]; ok {
				t.Fatal("the credential came back")
			}

			status, body, _ = p.do("POST", "/api/v1/issues/ABC-7/branches", bob, map[string]any{
				"integration_id": id, "repository_id": repoID, "summary": "Add the thing"})
			if status != 428 || body["error"].(map[string]any)["code"] != "user_token_required" {
				t.Fatalf("without a PAT: %d %v", status, body)
			}
			status, body, _ = p.do("PUT", "/api/v1/me/tokens/"+id, bob, map[string]string{"token": bobPAT})
			if status != 200 || body["status"] != "valid" {
				t.Fatalf("save PAT: %d %v", status, body)
			}
			status, body, _ = p.do("POST", "/api/v1/issues/ABC-7/branches", bob, map[string]any{
				"integration_id": id, "repository_id": repoID, "summary": "Add the thing"})
			if status != 201 || body["name"] != "ABC-7-add-the-thing" || body["acted_as"].(map[string]any)["login"] != "bob-gh" {
				t.Fatalf("create branch: %d %v", status, body)
			}
			sim.Commit("acme/api", "ABC-7-add-the-thing") // the developer pushes work to propose
			status, body, _ = p.do("POST", "/api/v1/issues/ABC-7/pull-requests", bob, map[string]any{
				"integration_id": id, "repository_id": repoID, "source": "ABC-7-add-the-thing"})
			if status != 201 || body["acted_as"].(map[string]any)["via"] != "user_token" {
				t.Fatalf("create pull request: %d %v", status, body)
			}
			for _, w := range sim.Writes() {
				if w.Login != "bob-gh" {
					t.Fatalf("a write was not bob's: %+v", w)
				}
			}

			// Rotating the key while serving loses nothing (SQLite: key
			// file; the server picks the new key up without a restart).
			if dialect == "sqlite" {
				out := mustGitrelay(t, env, "keys", "rotate")
				if !strings.Contains(out, "Generated a new primary key") || !strings.Contains(out, "re-sealed 2") {
					t.Fatalf("keys rotate: %s", out)
				}
				status, body, _ = p.do("DELETE", "/api/v1/issues/ABC-7/branches?integration_id="+id+"&repository_id="+repoID+"&name=ABC-7-add-the-thing", bob, nil)
				if status != 204 {
					t.Fatalf("delete branch after rotation: %d %v", status, body)
				}
			}

			status, body, h := p.do("GET", "/api/v1/audit?format=csv", admin, nil)
			if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(body["_raw"].(string), "user PAT as bob-gh") {
				t.Fatalf("audit csv: %d %v", status, body)
			}
			status, body, _ = p.do("GET", "/metrics", "", nil)
			if status != 200 || !strings.Contains(body["_raw"].(string), `gitrelay_actions_total{action="branch.create",code="",outcome="success",via="user_token"} 1`) {
				t.Fatalf("metrics: %d %v", status, body)
			}
			p.stop()
			all := p.stdout.String() + p.stderr.String()
			for _, secret := range []string{botPAT, bobPAT, admin, bob} {
				if strings.Contains(all, secret) {
					t.Fatalf("the process output holds a secret")
				}
			}
			if !strings.Contains(p.stderr.String(), `"msg":"gitrelay listening"`) {
				t.Fatalf("no structured log lines on stderr: %s", p.stderr)
			}
		})
	}
}

func TestCLIErrors(t *testing.T) {
	env := baseEnv("GITRELAY_DATA=" + t.TempDir())
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"users", "add"}, "exactly one USERNAME"},
		{[]string{"users", "add", "Bad Name"}, "Usernames may use only"},
		{[]string{"projects", "add", "1abc"}, "project key starts with a letter"},
		{[]string{"projects", "grant", "NOPE", "bob"}, "does not exist"},
		{[]string{"serve", "--addr", "256.0.0.1:1"}, "cannot listen"},
		{[]string{"serve", "--trusted-proxies", "10.0.0.0/8,proxy.internal"}, `trusted proxy "proxy.internal" is not an address or CIDR`},
		{[]string{"serve", "--egress-allow", "127.0.0.1/99"}, `"127.0.0.1/99" is neither a CIDR`},
		{[]string{"serve", "--egress-allow", "https://gitlab.corp.example"}, "without scheme, port or path"},
	} {
		out, err := gitrelay(t, env, tc.args...)
		if err == nil || !strings.Contains(out, tc.says) {
			t.Errorf("gitrelay %v: err %v, output %q, want it to say %q", tc.args, err, out, tc.says)
		}
	}
	if out, err := gitrelay(t, append(env, "GITRELAY_TRUSTED_PROXIES=10.0.0.0/99"), "serve"); err == nil || !strings.Contains(out, "GITRELAY_TRUSTED_PROXIES") {
		t.Errorf("serve with a bad GITRELAY_TRUSTED_PROXIES: err %v, output %q", err, out)
	}
	if out, err := gitrelay(t, append(env, "GITRELAY_EGRESS_ALLOW=10.0.0.0/8,bad name"), "serve"); err == nil || !strings.Contains(out, "GITRELAY_EGRESS_ALLOW") || !strings.Contains(out, `"bad name"`) {
		t.Errorf("serve with a bad GITRELAY_EGRESS_ALLOW: err %v, output %q, want the entry and the setting named", err, out)
	}
	if out := mustGitrelay(t, env, "version"); !strings.HasPrefix(out, "gitrelay ") {
		t.Errorf("version: %q", out)
	}
	if out := mustGitrelay(t, env, "migrate"); !strings.Contains(out, "up to date") {
		t.Errorf("migrate after migrate: %q", out)
	}
	_ = context.Background
}
