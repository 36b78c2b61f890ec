// Package hostsim is a stateful, in-memory simulator of git host APIs, for
// tests, benchmarks and gitrelay's demo mode.
//
// The Sim holds host-neutral state: tokens and the logins they authenticate
// as, repositories with who may read, push and administer them, branches
// pointing at commit shas, pull requests, webhooks (added by tests or
// through each host's webhook API, and delivered to as the host does), a
// log of every write attempted, and injected faults.
// Front-ends serve that state in one host's wire format: GitHub (and GitHub
// Enterprise Server under /api/v3), GitLab, Azure DevOps / TFS, AWS
// CodeCommit (with STS) and Gitea. Handler and Transport serve GitHub;
// the other hosts have a handler each (GitLab, Azure, CodeCommit, Gitea).
// Each front-end decides what a
// token's scopes or permissions allow, since that is what differs between
// hosts (managing webhooks needs admin rights on the repository everywhere,
// and GitHub's repo, admin:repo_hook or write:repo_hook scope or Webhooks
// permission, GitLab's api scope, Gitea's write:repository, Azure DevOps'
// vso.hooks_write); everything else (ref rules, pull request rules, faults, the write
// log) lives here so that every front-end behaves alike.
//
// A Sim is safe for concurrent use. Shas are deterministic: the same
// sequence of calls yields the same shas.
package hostsim

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
)

// Token is a personal access token the simulator accepts.
type Token struct {
	Value string
	Login string
	// Name is the account's display name; the last one given for a login
	// wins (default: the login).
	Name string
	// Scopes of a classic token; nil makes a fine-grained token, whose
	// scopes the host does not report.
	Scopes []string
	// Permissions of a fine-grained token, such as "contents": "write",
	// "pull_requests": "write" (read, write; absent = none).
	Permissions map[string]string
	// ExpiresAt is nil for a token that never expires.
	ExpiresAt *time.Time
}

// Repo is a repository. AddRepo fills in ID and DefaultBranch.
type Repo struct {
	ID      int64
	Owner   string
	Name    string
	Private bool
	// DefaultBranch is created with a first commit (default "main").
	DefaultBranch string
	// Writers may push (the owner always may); Readers may only see it.
	// Admins may also change the repository's settings, such as its
	// webhooks (the owner always may; GitHub's and Gitea's admin,
	// GitLab's Maintainer, Azure DevOps' Project Administrator).
	Writers []string
	Readers []string
	Admins  []string
	// DraftsUnsupported makes the host refuse draft pull requests.
	DraftsUnsupported bool
	// AllowEmptyPullRequests lets a front-end whose host refuses a pull
	// request from a branch with no commits of its own (GitHub: "No commits
	// between") accept one all the same. Off by default, so that the
	// simulator behaves like the host: move a branch forward with
	// Sim.Commit before proposing it.
	AllowEmptyPullRequests bool
}

// FullName is "owner/name".
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// PR is a pull request.
type PR struct {
	Number int
	Title  string
	Body   string
	Source string
	Target string
	Draft  bool
	Open   bool
	Author string
	// Merged is set by MergePullRequest (Open is then false).
	Merged bool
	// CreatedAt and UpdatedAt are set by the simulator's clock when the
	// pull request is opened and each time it changes.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Op names an operation independently of any host's URLs, so that faults
// and tests can target "create a branch" on every front-end alike.
type Op string

const (
	OpIdentity          Op = "identity"
	OpListRepos         Op = "list_repos"
	OpGetRepo           Op = "get_repo"
	OpListBranches      Op = "list_branches"
	OpGetBranch         Op = "get_branch"
	OpCreateBranch      Op = "create_branch"
	OpDeleteBranch      Op = "delete_branch"
	OpCreatePullRequest Op = "create_pull_request"
	OpListPullRequests  Op = "list_pull_requests"
	OpGetPullRequest    Op = "get_pull_request"
	OpListHooks         Op = "list_hooks"
	OpCreateHook        Op = "create_hook"
	OpUpdateHook        Op = "update_hook"
	OpWeb               Op = "web" // a web page, not the API
)

// Write is one write request a front-end received (POST, PUT, PATCH or
// DELETE), whether or not it succeeded or was answered at all.
type Write struct {
	At     time.Time
	Op     Op
	Method string
	Path   string
	// Repo is the repository's full name and Ref the branch it concerned,
	// where known.
	Repo string
	Ref  string
	// Login the token authenticates as ("" for an unknown token), and the
	// token's Fingerprint — never the token itself.
	Login string
	Token string
	// Status answered; 0 when the request hung until the client gave up.
	Status int
}

// Fingerprint identifies a token in the write log without revealing it.
func Fingerprint(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Fault makes matching requests misbehave. A request matches when Op (if
// set), Method (if set) and PathContains (if set) all match. The first
// matching fault applies.
type Fault struct {
	Op           Op
	Method       string
	PathContains string
	// Times the fault applies; 0 or less means until ClearFaults.
	Times int
	// Every > 1 applies the fault to every Every-th matching request only
	// (the Every-th, the 2×Every-th, ...), the others pass on to the next
	// fault or are served: steady, reproducible fault rates for soaks.
	// Times counts the requests it applied to.
	Every int
	// Delay holds the request back before it is handled (or before the
	// fault's own answer).
	Delay time.Duration
	// Hang holds the request until the client gives up (or Close).
	Hang bool
	// Drop reads the request and closes the connection without answering,
	// as a server or proxy closing a keep-alive connection does. The
	// in-process transports fail the request with io.ErrUnexpectedEOF.
	Drop bool
	// Cut handles the request, then closes the connection halfway through
	// the answer's body (announced whole in Content-Length): the host
	// acted, and the client fails while reading what it said. The
	// in-process transports fail the request with io.ErrUnexpectedEOF.
	Cut bool
	// RetryAfter > 0 answers as the host does when rate limiting, asking
	// to wait this long. Status picks among the host's rate-limit statuses
	// (GitHub: 403 or 429; default per front-end) and Secondary picks
	// GitHub's secondary (abuse) limit over its primary one.
	RetryAfter time.Duration
	Secondary  bool
	// Status answers with this HTTP status and the host's usual error body
	// for it (Message replaces the body's message).
	Status  int
	Message string
}

type fault struct {
	Fault
	left int // < 0: unlimited
	seen int // matching requests, for Every
}

type tokenState struct {
	Token
	revoked bool
}

type repoState struct {
	Repo
	branches map[string]string // name → sha
	commits  map[string]bool   // every sha the repository knows
	prs      []*PR
}

// Sim is the simulator. Create it with New.
type Sim struct {
	mu       sync.Mutex
	clock    func() time.Time
	latency  time.Duration
	tokens   map[string]*tokenState
	names    map[string]string // login (lower case) → display name
	userIDs  map[string]int64  // login (lower case) → id
	repos    map[string]*repoState
	byID     map[int64]*repoState
	nextRepo int64
	seq      uint64
	writes   []Write
	faults   []*fault
	used     map[string]int // requests per token fingerprint
	requests int            // API requests received, answered or not
	// notModified counts list requests answered 304 (serveConditional).
	notModified int
	// hooks are the webhooks registered per repository (lower-case full
	// name) and deliveries what was delivered (webhooks.go).
	hooks      map[string][]Hook
	deliveries []Delivery
	lastHook   int64 // the last hook id given
	started    time.Time

	done      chan struct{}
	closeOnce sync.Once
	feOnce    sync.Once
	fronts    *frontMux
}

// New returns an empty simulator.
func New() *Sim {
	s := &Sim{
		clock:    time.Now,
		tokens:   map[string]*tokenState{},
		names:    map[string]string{},
		userIDs:  map[string]int64{},
		repos:    map[string]*repoState{},
		byID:     map[int64]*repoState{},
		nextRepo: 1296269,
		used:     map[string]int{},
		done:     make(chan struct{}),
	}
	s.started = s.clock()
	return s
}

// Close releases requests held by Hang faults (they are answered 503) and
// stops delays; later hangs answer 503 at once. The Sim stays usable
// otherwise.
func (s *Sim) Close() { s.closeOnce.Do(func() { close(s.done) }) }

// SetClock replaces the clock deciding token expiry and rate-limit resets.
func (s *Sim) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// SetLatency delays every request by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// AddToken makes the simulator accept t. It panics when Value or Login is
// empty.
func (s *Sim) AddToken(t Token) {
	if t.Value == "" || t.Login == "" {
		panic("hostsim: a token needs a Value and a Login")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Scopes = slices.Clone(t.Scopes)
	t.Permissions = maps.Clone(t.Permissions)
	if t.ExpiresAt != nil {
		at := t.ExpiresAt.Truncate(time.Second)
		t.ExpiresAt = &at
	}
	s.user(t.Login)
	if t.Name != "" {
		s.names[strings.ToLower(t.Login)] = t.Name
	}
	s.tokens[t.Value] = &tokenState{Token: t}
}

// RevokeToken makes the host refuse the token from now on.
func (s *Sim) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[value]; t != nil {
		t.revoked = true
	}
}

// ExpireToken makes the token expired as of now.
func (s *Sim) ExpireToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[value]; t != nil {
		at := s.clock().Add(-time.Second).Truncate(time.Second)
		t.ExpiresAt = &at
	}
}

// user returns the numeric id of login, registering it. Callers hold mu.
func (s *Sim) user(login string) int64 {
	k := strings.ToLower(login)
	if id, ok := s.userIDs[k]; ok {
		return id
	}
	id := int64(583231 + len(s.userIDs))
	s.userIDs[k] = id
	return id
}

// AddRepo creates a repository with its default branch at a first commit
// and returns it with ID and DefaultBranch filled in. It panics when Owner
// or Name is empty or the repository exists.
func (s *Sim) AddRepo(r Repo) Repo {
	if r.Owner == "" || r.Name == "" {
		panic("hostsim: a repository needs an Owner and a Name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(r.FullName())
	if _, dup := s.repos[key]; dup {
		panic("hostsim: repository " + r.FullName() + " exists")
	}
	if r.ID == 0 {
		r.ID = s.nextRepo
		s.nextRepo++
	}
	if _, dup := s.byID[r.ID]; dup {
		panic(fmt.Sprintf("hostsim: repository id %d is taken", r.ID))
	}
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	r.Writers = slices.Clone(r.Writers)
	r.Readers = slices.Clone(r.Readers)
	r.Admins = slices.Clone(r.Admins)
	s.user(r.Owner)
	st := &repoState{Repo: r, branches: map[string]string{}, commits: map[string]bool{}}
	sha := s.newSHA(r.FullName(), r.DefaultBranch)
	st.branches[r.DefaultBranch] = sha
	st.commits[sha] = true
	s.repos[key] = st
	s.byID[r.ID] = st
	return r
}

// newSHA returns a fresh deterministic commit sha. Callers hold mu.
func (s *Sim) newSHA(parts ...string) string {
	s.seq++
	sum := sha1.Sum(fmt.Appendf(nil, "%s\x00%d", strings.Join(parts, "\x00"), s.seq))
	return hex.EncodeToString(sum[:])
}

func (s *Sim) mustRepo(fullName string) *repoState {
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		panic("hostsim: no repository " + fullName)
	}
	return r
}

// AddBranch points branch at sha (a new commit when sha is ""), creating or
// moving it, and returns the sha. It panics for an unknown repository.
func (s *Sim) AddBranch(fullName, branch, sha string) string {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if sha == "" {
		sha = s.newSHA(r.FullName(), branch)
	}
	ev = pushed(fullName, branch, r.branches[branch], sha)
	r.branches[branch] = sha
	r.commits[sha] = true
	return sha
}

// Commit moves branch to a new commit and returns its sha, as a push would.
// It panics for an unknown repository or branch.
func (s *Sim) Commit(fullName, branch string) string {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if _, ok := r.branches[branch]; !ok {
		panic("hostsim: no branch " + branch + " in " + fullName)
	}
	sha := s.newSHA(r.FullName(), branch)
	ev = pushed(fullName, branch, r.branches[branch], sha)
	r.branches[branch] = sha
	r.commits[sha] = true
	return sha
}

// GrantAdmin makes login an administrator of the repository (Repo.Admins).
// It panics for an unknown repository.
func (s *Sim) GrantAdmin(fullName, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	r.Admins = append(r.Admins, login)
}

// Branches returns the repository's branches and their shas.
func (s *Sim) Branches(fullName string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.mustRepo(fullName).branches)
}

// PullRequests returns the repository's pull requests, oldest first.
func (s *Sim) PullRequests(fullName string) []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PR
	for _, p := range s.mustRepo(fullName).prs {
		out = append(out, *p)
	}
	return out
}

// ClosePullRequest closes a pull request, if it exists.
func (s *Sim) ClosePullRequest(fullName string, number int) {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.mustRepo(fullName).prs {
		if p.Number == number {
			p.Open = false
			p.UpdatedAt = s.clock().UTC()
			ev = pullRequestChanged(fullName, p, "closed")
		}
	}
}

// Writes returns every write request received so far, in order.
func (s *Sim) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// Inject adds a fault.
func (s *Sim) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.faults = append(s.faults, &fault{Fault: f, left: left})
}

// Requests is how many API requests the simulator received, whether it
// answered them, failed them with a fault or dropped them.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault matching the request and uses it up.
func (s *Sim) takeFault(op Op, method, path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Op != "" && f.Op != op) ||
			(f.Method != "" && !strings.EqualFold(f.Method, method)) ||
			(f.PathContains != "" && !strings.Contains(path, f.PathContains)) {
			continue
		}
		if !f.due() {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

func (s *Sim) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock()
}

func (s *Sim) record(w Write) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, w)
}

// authStatus is what the host thinks of a presented token.
type authStatus int

const (
	authNone authStatus = iota // no token presented
	authOK
	authUnknown
	authRevoked
	authExpired
)

// authenticate looks a token up. The returned copy is safe to read.
func (s *Sim) authenticate(value string) (Token, authStatus) {
	if value == "" {
		return Token{}, authNone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[value]
	switch {
	case t == nil:
		return Token{}, authUnknown
	case t.revoked:
		return t.Token, authRevoked
	case t.ExpiresAt != nil && !s.clock().Before(*t.ExpiresAt):
		return t.Token, authExpired
	}
	return t.Token, authOK
}

// loginOf is the login a token value belongs to, valid or not.
func (s *Sim) loginOf(value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[value]; t != nil {
		return t.Login
	}
	return ""
}

// rate counts a request made with a token and returns how many requests
// it has made since the simulator started, and when the current hour-long
// window (which hosts report as the limit's reset) ends.
func (s *Sim) rate(value string) (used int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := Fingerprint(value)
	s.used[fp]++
	hours := int(s.clock().Sub(s.started) / time.Hour)
	return s.used[fp], s.started.Add(time.Duration(hours+1) * time.Hour).Truncate(time.Second)
}

// account is a login's public face.
type account struct {
	ID    int64
	Login string
	Name  string
}

func (s *Sim) account(login string) account {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := s.names[strings.ToLower(login)]
	if name == "" {
		name = login
	}
	return account{ID: s.user(login), Login: login, Name: name}
}

// repoView is a snapshot of a repository as one login sees it.
type repoView struct {
	Repo
	Visible bool // public, or the login is a member
	Member  bool // owner, writer or reader
	Push    bool
	Admin   bool
}

func view(r *repoState, login string) repoView {
	v := repoView{Repo: r.Repo}
	v.Writers = slices.Clone(r.Writers)
	v.Readers = slices.Clone(r.Readers)
	v.Admins = slices.Clone(r.Admins)
	if login != "" {
		has := func(list []string) bool {
			return slices.ContainsFunc(list, func(l string) bool { return strings.EqualFold(l, login) })
		}
		v.Admin = strings.EqualFold(r.Owner, login) || has(r.Admins)
		v.Push = v.Admin || has(r.Writers)
		v.Member = v.Push || has(r.Readers)
	}
	v.Visible = !r.Private || v.Member
	return v
}

// repo returns a snapshot of the repository fullName as login sees it.
func (s *Sim) repo(fullName, login string) (repoView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return repoView{}, false
	}
	return view(r, login), true
}

func (s *Sim) repoByID(id int64, login string) (repoView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return repoView{}, false
	}
	return view(r, login), true
}

// memberRepos lists the repositories login is a member of, by full name.
func (s *Sim) memberRepos(login string) []repoView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []repoView
	for _, r := range s.repos {
		if v := view(r, login); v.Member {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b repoView) int {
		return strings.Compare(strings.ToLower(a.FullName()), strings.ToLower(b.FullName()))
	})
	return out
}

// branch is a branch and the commit it points at.
type branch struct {
	Name string
	SHA  string
}

func (s *Sim) branchList(fullName string) []branch {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil
	}
	out := make([]branch, 0, len(r.branches))
	for n, sha := range r.branches {
		out = append(out, branch{n, sha})
	}
	slices.SortFunc(out, func(a, b branch) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Sim) branchSHA(fullName, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return "", false
	}
	sha, ok := r.branches[name]
	return sha, ok
}

// failure is why the host refused an operation, independently of how a
// front-end words it.
type failure struct {
	kind     failKind
	conflict string // failRefConflict: the existing branch in the way
	field    string // failInvalid: the offending field
	pr       PR     // failPRExists: the open pull request
}

type failKind int

const (
	failNone failKind = iota
	failInvalidRef
	failObjectMissing
	failRefExists
	failRefConflict
	failRefMissing
	failDefaultBranch
	failInvalid
	failHeadMissing
	failBaseMissing
	failSameBranch
	failPRExists
	failDraftUnsupported
	failNoCommits
)

// createBranch points a new branch at an existing commit.
func (s *Sim) createBranch(fullName, name, sha string) failure {
	if !host.ValidBranchName(name) {
		return failure{kind: failInvalidRef}
	}
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if !r.commits[sha] {
		return failure{kind: failObjectMissing}
	}
	if _, ok := r.branches[name]; ok {
		return failure{kind: failRefExists}
	}
	for other := range r.branches {
		if strings.HasPrefix(other, name+"/") || strings.HasPrefix(name, other+"/") {
			return failure{kind: failRefConflict, conflict: other}
		}
	}
	r.branches[name] = sha
	ev = pushed(fullName, name, "", sha)
	return failure{}
}

func (s *Sim) deleteBranch(fullName, name string) failure {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if _, ok := r.branches[name]; !ok {
		return failure{kind: failRefMissing}
	}
	if name == r.DefaultBranch {
		return failure{kind: failDefaultBranch}
	}
	ev = pushed(fullName, name, r.branches[name], zeroSHA)
	delete(r.branches, name)
	return failure{}
}

// prRules are the refusals that differ between hosts.
type prRules struct {
	// refuseDrafts refuses a draft in a repository marked
	// DraftsUnsupported (GitHub, Azure DevOps); GitLab and Gitea mark
	// drafts by title and never refuse them.
	refuseDrafts bool
	// refuseEmpty refuses a pull request whose source branch has no commits
	// that its target lacks, unless the repository is marked
	// AllowEmptyPullRequests. GitHub refuses one; GitLab (whose "Create
	// merge request" on an issue opens one from a fresh branch), Gitea
	// (which refuses only head = base by name), Azure DevOps and CodeCommit
	// (which document no such refusal) accept one.
	refuseEmpty bool
}

// createPR opens a pull request from p.Source to p.Target, refusing a
// draft in a repository marked DraftsUnsupported.
func (s *Sim) createPR(fullName string, p PR) (PR, failure) {
	return s.openPR(fullName, p, prRules{refuseDrafts: true})
}

// createPRAnyDraft is createPR for hosts that never refuse drafts (GitLab
// and Gitea mark them by title): DraftsUnsupported does not apply.
func (s *Sim) createPRAnyDraft(fullName string, p PR) (PR, failure) {
	return s.openPR(fullName, p, prRules{})
}

func (s *Sim) openPR(fullName string, p PR, rules prRules) (PR, failure) {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if strings.TrimSpace(p.Title) == "" {
		return PR{}, failure{kind: failInvalid, field: "title"}
	}
	src, ok := r.branches[p.Source]
	if !ok {
		return PR{}, failure{kind: failHeadMissing}
	}
	dst, ok := r.branches[p.Target]
	if !ok {
		return PR{}, failure{kind: failBaseMissing}
	}
	if p.Source == p.Target {
		return PR{}, failure{kind: failSameBranch}
	}
	for _, o := range r.prs {
		if o.Open && o.Source == p.Source && o.Target == p.Target {
			return PR{}, failure{kind: failPRExists, pr: *o}
		}
	}
	if rules.refuseDrafts && p.Draft && r.DraftsUnsupported {
		return PR{}, failure{kind: failDraftUnsupported}
	}
	if rules.refuseEmpty && !r.AllowEmptyPullRequests && src == dst {
		return PR{}, failure{kind: failNoCommits}
	}
	p.Number = len(r.prs) + 1
	p.Open = true
	p.CreatedAt = s.clock().UTC()
	p.UpdatedAt = p.CreatedAt
	r.prs = append(r.prs, &p)
	ev = pullRequestChanged(fullName, &p, "opened")
	return p, failure{}
}

// pulls lists pull requests matching the filters ("" matches all); state
// is "open", "closed" or "all".
func (s *Sim) pulls(fullName, state, source, target string) []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PR
	for _, p := range s.mustRepo(fullName).prs {
		if (state == "open" && !p.Open) || (state == "closed" && p.Open) ||
			(source != "" && p.Source != source) || (target != "" && p.Target != target) {
			continue
		}
		out = append(out, *p)
	}
	return out
}

func (s *Sim) pull(fullName string, number int) (PR, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.mustRepo(fullName).prs {
		if p.Number == number {
			return *p, true
		}
	}
	return PR{}, false
}

// branchTip is the sha a branch points at, or "".
func (s *Sim) branchTip(fullName, name string) string {
	sha, _ := s.branchSHA(fullName, name)
	return sha
}
