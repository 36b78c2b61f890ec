package hostsim

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Git serves the simulator's repositories over git's smart HTTP protocol:
// a real bare repository on disk per simulated one, served by the system
// `git http-backend` behind net/http/cgi, at each host's URL layout and
// with its authentication (HTTP basic, with a token the host accepts as
// the password; on CodeCommit, an access key ID and the git password
// derived from its secret, which the simulator verifies). The branches the API reports and the refs git advertises
// are one: commits made with Commit move the API's branch, and branches
// the API creates appear in git when they point at a real commit.
//
// Create it with Sim.Git and put its Wrap around a front-end's handler.
type Git struct {
	sim  *Sim
	root string

	mu    sync.Mutex
	repos map[int64]*sync.Mutex // repository id → its lock, once its bare repository exists
	stats map[string]GitStats   // full name (lower case) → requests served
	clock int64                 // seconds; each commit one later, so dates are distinct and repeatable
	// region is the AWS region whose git endpoint a LayoutCodeCommit
	// server stands for.
	region string
}

// GitStats counts the git requests one repository received.
type GitStats struct {
	// Refs counts ref advertisements (GET info/refs), what `git ls-remote`
	// and the first step of every fetch ask for.
	Refs int
	// ListRefs counts protocol v2 ref listings (POST git-upload-pack with
	// command=ls-refs), the second step of `git ls-remote` in v2.
	ListRefs int
	// Fetches counts pack negotiations (POST git-upload-pack asking for
	// objects).
	Fetches int
	// Refused counts requests refused for want of a credential that may
	// read the repository.
	Refused int
}

// Layout is how a host names its repositories' git URLs.
type Layout int

const (
	// LayoutOwnerRepo is GitHub's, Gitea's and GitLab's:
	// /{owner}/{repo}.git (GitLab: /{group}/{project}.git, below the
	// instance's root).
	LayoutOwnerRepo Layout = iota
	// LayoutAzure is Azure DevOps', VSTS' and TFS':
	// /{organization or /tfs/collection}/{project}/_git/{repo}.
	LayoutAzure
	// LayoutCodeCommit is AWS CodeCommit's: /v1/repos/{name}, with the
	// SigV4-derived git password of an access key (see Git.SetRegion).
	LayoutCodeCommit
)

// Git returns the simulator's git server, keeping bare repositories under
// dir (a test's temporary directory). Each call returns a new server over
// the same simulated repositories; use one per Sim.
func (s *Sim) Git(dir string) *Git {
	return &Git{sim: s, root: dir, repos: map[int64]*sync.Mutex{}, stats: map[string]GitStats{}, clock: 1_700_000_000,
		region: "eu-west-1"}
}

// SetRegion sets the AWS region a LayoutCodeCommit server stands for
// (eu-west-1 by default): git passwords must be derived for it.
func (g *Git) SetRegion(region string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.region = region
}

// Wrap serves git requests in layout and hands everything else to h (the
// host's API front-end), so one server answers both as the host does.
func (g *Git) Wrap(layout Layout, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		full, rest, ok := gitPath(layout, r.URL.Path)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		g.serve(w, r, layout, full, rest)
	})
}

// gitPath splits a git request's path into the repository's full name and
// what follows it (/info/refs, /git-upload-pack, …), per layout.
func gitPath(layout Layout, path string) (full, rest string, ok bool) {
	var i int
	for _, suffix := range []string{"/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD"} {
		if strings.HasSuffix(path, suffix) {
			i = len(path) - len(suffix)
			rest = suffix
			break
		}
	}
	if rest == "" {
		return "", "", false
	}
	repo := path[:i]
	switch layout {
	case LayoutCodeCommit:
		name, found := strings.CutPrefix(repo, "/v1/repos/")
		if !found || name == "" || strings.Contains(name, "/") {
			return "", "", false
		}
		return name, rest, true
	case LayoutAzure:
		before, name, found := strings.Cut(repo, "/_git/")
		if !found || name == "" || strings.Contains(name, "/") {
			return "", "", false
		}
		project := before[strings.LastIndex(before, "/")+1:]
		if project == "" {
			return "", "", false
		}
		return project + "/" + name, rest, true
	default:
		name, found := strings.CutSuffix(repo, ".git")
		if !found {
			return "", "", false
		}
		return strings.TrimPrefix(name, "/"), rest, true
	}
}

// repoByPath finds the simulated repository a git path names: its full
// name, or (for GitLab below a root such as /gitlab) the longest suffix of
// it that names one.
func (g *Git) repoByPath(full string) (*repoState, bool) {
	g.sim.mu.Lock()
	defer g.sim.mu.Unlock()
	for {
		if r := g.sim.repos[strings.ToLower(full)]; r != nil {
			return r, true
		}
		_, after, found := strings.Cut(full, "/")
		if !found {
			return nil, false
		}
		full = after
	}
}

func (g *Git) serve(w http.ResponseWriter, r *http.Request, layout Layout, full, rest string) {
	var token Token
	var status authStatus
	var v repoView
	if layout == LayoutCodeCommit {
		g.mu.Lock()
		region := g.region
		g.mu.Unlock()
		token, status = g.sim.ccGitAuthenticate(r, region, full)
		var ok bool
		if v, ok = g.sim.ccRepo(full, token.Login); !ok {
			http.NotFound(w, r)
			return
		}
		full = v.FullName()
	} else {
		st, ok := g.repoByPath(full)
		if !ok {
			http.NotFound(w, r)
			return
		}
		full = st.FullName()
		token, status = g.sim.authenticate(authorizationToken(r))
		v, _ = g.sim.repo(full, token.Login)
	}
	if rest == "/git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack" {
		// Pushes go through Commit; the git server only reads.
		http.Error(w, "pushing is not served", http.StatusForbidden)
		return
	}
	if status != authOK && (status != authNone || v.Private) || !v.Visible {
		g.count(full, func(s *GitStats) { s.Refused++ })
		// What hosts answer: a challenge, whether the repository exists
		// or the credential is wrong, so that neither is told apart.
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	dir, err := g.ensure(full)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := g.syncRefs(r.Context(), full, dir); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch rest {
	case "/info/refs":
		g.count(full, func(s *GitStats) { s.Refs++ })
	case "/git-upload-pack":
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if isListRefs(body, r.Header.Get("Content-Encoding")) {
			g.count(full, func(s *GitStats) { s.ListRefs++ })
		} else {
			g.count(full, func(s *GitStats) { s.Fetches++ })
		}
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "git is not installed", http.StatusInternalServerError)
		return
	}
	h := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  g.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + g.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + g.root,
		},
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + filepath.Base(dir) + rest
	r2.Header.Del("Authorization")
	h.ServeHTTP(w, r2)
}

// isListRefs tells a protocol v2 ls-refs request from a fetch.
func isListRefs(body []byte, encoding string) bool {
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return false
		}
		body, _ = io.ReadAll(io.LimitReader(zr, 64<<20))
	}
	return bytes.Contains(body, []byte("command=ls-refs"))
}

func (g *Git) count(full string, f func(*GitStats)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats[strings.ToLower(full)]
	f(&s)
	g.stats[strings.ToLower(full)] = s
}

// Stats returns the git requests the repository fullName received.
func (g *Git) Stats(fullName string) GitStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats[strings.ToLower(fullName)]
}

// ResetStats forgets the requests counted so far.
func (g *Git) ResetStats() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stats = map[string]GitStats{}
}

// lock returns the repository's lock and its bare repository's directory.
func (g *Git) lock(full string) (*sync.Mutex, string, int64, string) {
	g.sim.mu.Lock()
	r := g.sim.mustRepo(full)
	id, def := r.ID, r.DefaultBranch
	g.sim.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.repos[id]
	if m == nil {
		m = &sync.Mutex{}
		g.repos[id] = m
	}
	return m, filepath.Join(g.root, strconv.FormatInt(id, 10)+".git"), id, def
}

// ensure creates the repository's bare repository on first use, with a
// real first commit on the default branch (which the API then reports).
func (g *Git) ensure(full string) (string, error) {
	m, dir, _, def := g.lock(full)
	m.Lock()
	defer m.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return dir, nil
	}
	if _, err := runGit(context.Background(), "", nil, "init", "--quiet", "--bare", "--initial-branch="+def, dir); err != nil {
		return "", err
	}
	sha, err := g.fastImport(dir, def, []Change{{Message: "Initial commit", File: "README.md", Content: "# " + full + "\n"}})
	if err != nil {
		return "", err
	}
	g.sim.AddBranch(full, def, sha)
	return dir, nil
}

// syncRefs makes git's refs what the API reports: branches the API
// created or moved to a real commit are set, branches it deleted are
// removed. Shas git does not know (made by the API before the repository
// served git) are left alone.
func (g *Git) syncRefs(ctx context.Context, full, dir string) error {
	m, _, _, _ := g.lock(full)
	m.Lock()
	defer m.Unlock()
	want := g.sim.Branches(full)
	out, err := runGit(ctx, dir, nil, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads/")
	if err != nil {
		return err
	}
	have := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			have[name] = sha
		}
	}
	var cmds bytes.Buffer
	for name, sha := range want {
		if have[name] == sha {
			continue
		}
		if _, err := runGit(ctx, dir, nil, "cat-file", "-e", sha+"^{commit}"); err != nil {
			continue
		}
		fmt.Fprintf(&cmds, "update refs/heads/%s %s\n", name, sha)
	}
	for name := range have {
		if _, kept := want[name]; !kept {
			fmt.Fprintf(&cmds, "delete refs/heads/%s\n", name)
		}
	}
	if cmds.Len() == 0 {
		return nil
	}
	_, err = runGit(ctx, dir, &cmds, "update-ref", "--stdin")
	return err
}

// Change is one commit made with Commit: its message, author, and one file
// it writes.
type Change struct {
	Message string
	// AuthorName and AuthorEmail default to "Simulated Developer" and
	// dev@example.com.
	AuthorName, AuthorEmail string
	// File (default "CHANGES") gets Content (default: the message).
	File, Content string
	// At is the commit's date; zero means one second after the previous
	// commit the simulator made.
	At time.Time
}

// Commit pushes changes to branch of the repository fullName, as a
// developer's push would: one real commit each, on top of the branch (a
// new branch starts from the default branch). It returns the new tip, which
// the API reports too. It panics for an unknown repository.
func (g *Git) Commit(fullName, branch string, changes ...Change) (string, error) {
	dir, err := g.ensure(fullName)
	if err != nil {
		return "", err
	}
	m, _, _, def := g.lock(fullName)
	m.Lock()
	defer m.Unlock()
	from := branch
	if _, err := runGit(context.Background(), dir, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err != nil {
		from = def
	}
	if from != branch {
		if _, err := runGit(context.Background(), dir, nil, "update-ref", "refs/heads/"+branch, "refs/heads/"+from); err != nil {
			return "", err
		}
	}
	sha, err := g.fastImport(dir, branch, changes)
	if err != nil {
		return "", err
	}
	g.sim.AddBranch(fullName, branch, sha)
	return sha, nil
}

// DeleteBranch deletes a branch, as a developer's `git push --delete`.
func (g *Git) DeleteBranch(fullName, branch string) error {
	dir, err := g.ensure(fullName)
	if err != nil {
		return err
	}
	m, _, _, _ := g.lock(fullName)
	m.Lock()
	defer m.Unlock()
	g.sim.mu.Lock()
	delete(g.sim.mustRepo(fullName).branches, branch)
	g.sim.mu.Unlock()
	_, err = runGit(context.Background(), dir, nil, "update-ref", "-d", "refs/heads/"+branch)
	return err
}

// fastImport writes changes on top of branch (or as its first commits) in
// one git fast-import run, and returns the new tip. Callers hold the
// repository's lock.
func (g *Git) fastImport(dir, branch string, changes []Change) (string, error) {
	var in bytes.Buffer
	ref := "refs/heads/" + branch
	_, err := runGit(context.Background(), dir, nil, "rev-parse", "--verify", "--quiet", ref)
	exists := err == nil
	for i, c := range changes {
		name, email := c.AuthorName, c.AuthorEmail
		if name == "" {
			name = "Simulated Developer"
		}
		if email == "" {
			email = "dev@example.com"
		}
		file, content := c.File, c.Content
		if file == "" {
			file = "CHANGES"
		}
		if content == "" {
			content = c.Message + "\n"
		}
		var at int64
		if c.At.IsZero() {
			g.mu.Lock()
			g.clock++
			at = g.clock
			g.mu.Unlock()
		} else {
			at = c.At.Unix()
		}
		fmt.Fprintf(&in, "commit %s\n", ref)
		fmt.Fprintf(&in, "author %s <%s> %d +0000\n", name, email, at)
		fmt.Fprintf(&in, "committer %s <%s> %d +0000\n", name, email, at)
		fmt.Fprintf(&in, "data %d\n%s\n", len(c.Message), c.Message)
		if i == 0 && exists {
			fmt.Fprintf(&in, "from %s^0\n", ref)
		}
		fmt.Fprintf(&in, "M 644 inline %s\ndata %d\n%s\n\n", file, len(content), content)
	}
	if _, err := runGit(context.Background(), dir, &in, "fast-import", "--quiet", "--force"); err != nil {
		return "", err
	}
	out, err := runGit(context.Background(), dir, nil, "rev-parse", ref)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// runGit runs the system git in dir, isolated from the user's and the
// system's configuration.
func runGit(ctx context.Context, dir string, stdin *bytes.Buffer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=/nonexistent", "PATH=" + os.Getenv("PATH")}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("hostsim: git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
