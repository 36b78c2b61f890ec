package hostsim

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Gitea serves the Gitea (and Forgejo) REST API under /api/v1/, with web
// pages at the root (the token page at /user/settings/applications), as a
// Gitea server does. Repositories keep their owner/name; a token's Scopes
// are Gitea scopes ("write:repository", "read:user", "public-only",
// "all"); nil Scopes is a token from before Gitea 1.19, which may do
// everything its account may.
//
// Gitea never refuses a work-in-progress title, so DraftsUnsupported does
// not apply to it.
func (s *Sim) Gitea() http.Handler { return s.handler(newGitea(s)) }

// GiteaTransport is Transport for the Gitea front-end: requests to any
// host reach the simulator's Gitea API in process, without sockets.
func (s *Sim) GiteaTransport() http.RoundTripper { return transport{s.Gitea()} }

const (
	giteaPrefix = "/api/v1"
	// giteaDefaultLimit and giteaMaxLimit are Gitea's default
	// DEFAULT_PAGING_NUM and MAX_RESPONSE_ITEMS.
	giteaDefaultLimit = 30
	giteaMaxLimit     = 50
)

// giteaWIPPrefixes are Gitea's default WORK_IN_PROGRESS_PREFIXES.
var giteaWIPPrefixes = []string{"WIP:", "[WIP]"}

func giteaIsWIP(title string) bool {
	t := strings.ToUpper(strings.TrimSpace(title))
	return slices.ContainsFunc(giteaWIPPrefixes, func(p string) bool { return strings.HasPrefix(t, p) })
}

type gitea struct {
	sim *Sim
	opMux
}

func newGitea(s *Sim) *gitea {
	g := &gitea{sim: s, opMux: newOpMux()}
	api := func(method, path string, op Op, h http.HandlerFunc) {
		pattern := method + " " + giteaPrefix + path
		g.handle(pattern, op, h)
	}
	api("GET", "/user", OpIdentity, g.getUser)
	api("GET", "/user/repos", OpListRepos, g.listRepos)
	api("GET", "/repositories/{id}", OpGetRepo, g.getRepoByID)
	api("GET", "/repos/{owner}/{repo}", OpGetRepo, g.getRepo)
	api("GET", "/repos/{owner}/{repo}/branches", OpListBranches, g.listBranches)
	api("GET", "/repos/{owner}/{repo}/branches/{branch...}", OpGetBranch, g.getBranch)
	api("POST", "/repos/{owner}/{repo}/branches", OpCreateBranch, g.createBranch)
	api("DELETE", "/repos/{owner}/{repo}/branches/{branch...}", OpDeleteBranch, g.deleteBranch)
	api("GET", "/repos/{owner}/{repo}/pulls", OpListPullRequests, g.listPulls)
	api("POST", "/repos/{owner}/{repo}/pulls", OpCreatePullRequest, g.createPull)
	api("GET", "/repos/{owner}/{repo}/pulls/{index}", OpGetPullRequest, g.getPull)
	api("GET", "/repos/{owner}/{repo}/hooks", OpListHooks, g.listHooks)
	api("POST", "/repos/{owner}/{repo}/hooks", OpCreateHook, g.createHook)
	api("PATCH", "/repos/{owner}/{repo}/hooks/{id}", OpUpdateHook, g.editHook)
	g.handle("GET /user/settings/applications", OpWeb, g.tokenPage)
	g.mux.HandleFunc(giteaPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		g.notFound(w, r)
	})
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if g.sim.webPage(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<!doctype html><title>Page Not Found - Gitea</title><p>The page you are trying to reach either does not exist or you are not authorized to view it.</p>")
	})
	return g
}

// token accepts "token T" and "Bearer T" (and Basic with the token as the
// password), as Gitea does.
func (g *gitea) token(r *http.Request) string {
	return authorizationToken(r)
}

func (g *gitea) describe(r *http.Request, body []byte) (repo, ref string) {
	rest, ok := strings.CutPrefix(r.URL.Path, giteaPrefix+"/repos/")
	if !ok {
		return "", ""
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return "", ""
	}
	repo = parts[0] + "/" + parts[1]
	if v, found := g.sim.repo(repo, ""); found {
		repo = v.FullName()
	}
	var fields struct {
		NewBranchName string `json:"new_branch_name"`
		Head          string `json:"head"`
	}
	_ = json.Unmarshal(body, &fields)
	switch tail := "/" + strings.Join(parts[2:], "/"); {
	case strings.HasPrefix(tail, "/branches/"):
		ref, _ = url.PathUnescape(strings.TrimPrefix(tail, "/branches/"))
	case tail == "/branches":
		ref = fields.NewBranchName
	case tail == "/pulls":
		ref = fields.Head
		if _, branch, qualified := strings.Cut(fields.Head, ":"); qualified {
			ref = branch
		}
	}
	return repo, ref
}

// fault answers as a Gitea server (or the proxy in front of it) does.
// Gitea has no rate limit of its own: a limiting proxy answers 429 with
// Retry-After.
func (g *gitea) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	status := f.Status
	if f.RetryAfter > 0 {
		if status == 0 {
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10))
		g.error(w, r, status, giteaOrDefault(f.Message, "rate limit exceeded"))
		return
	}
	msg := f.Message
	if msg == "" {
		switch status {
		case http.StatusUnauthorized:
			msg = "token is required"
		case http.StatusNotFound:
			msg = "The target couldn't be found."
		default:
			msg = http.StatusText(status)
		}
	}
	g.error(w, r, status, msg)
}

func giteaOrDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// error writes Gitea's APIError body: {"message", "url"}, the URL being
// the server's API documentation.
func (g *gitea) error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg, "url": g.webBase(r) + "/api/swagger"})
}

// notFound writes Gitea's 404 body, which also lists "errors".
func (g *gitea) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]any{
		"errors": []string{}, "message": "The target couldn't be found.", "url": g.webBase(r) + "/api/swagger",
	})
}

func (g *gitea) webBase(r *http.Request) string { return scheme(r) + "://" + r.Host }

// begin authenticates the request. A token Gitea does not know (unknown,
// revoked, or expired) is refused with 401 "token is required". ok is false
// when it answered.
func (g *gitea) begin(w http.ResponseWriter, r *http.Request) (c caller, ok bool) {
	value := g.token(r)
	tok, st := g.sim.authenticate(value)
	g.sim.rate(value)
	switch st {
	case authUnknown, authRevoked, authExpired:
		g.error(w, r, http.StatusUnauthorized, "token is required")
		return caller{}, false
	case authOK:
		return caller{tok: tok, login: tok.Login}, true
	}
	return caller{}, true
}

// giteaHasScope decides as Gitea's scope check does: "all" and pre-1.19
// tokens (nil Scopes) allow everything, write:X implies read:X.
func giteaHasScope(tok Token, category string, write bool) bool {
	if tok.Scopes == nil || slices.Contains(tok.Scopes, "all") {
		return true
	}
	if slices.Contains(tok.Scopes, "write:"+category) {
		return true
	}
	return !write && slices.Contains(tok.Scopes, "read:"+category)
}

// scoped checks the request's token has the categories' scopes at the level
// its method asks (writes for POST, PUT, PATCH, DELETE) and answers 403
// naming the first missing one, as Gitea does. ok is false when it
// answered.
func (g *gitea) scoped(w http.ResponseWriter, r *http.Request, c caller, categories ...string) bool {
	if c.login == "" {
		return true
	}
	write := isWrite(r.Method)
	for _, cat := range categories {
		if !giteaHasScope(c.tok, cat, write) {
			level := "read"
			if write {
				level = "write"
			}
			g.error(w, r, http.StatusForbidden, fmt.Sprintf("token does not have at least one of required scope(s): [%s:%s]", level, cat))
			return false
		}
	}
	return true
}

func (g *gitea) publicOnly(c caller) bool {
	return c.tok.Scopes != nil && slices.Contains(c.tok.Scopes, "public-only")
}

// giteaNeed is what an operation requires of the login on a repository.
type giteaNeed int

const (
	giteaRead giteaNeed = iota
	giteaWrite
	giteaAdmin // the repository's settings, such as its webhooks
)

// repoFor authenticates, checks the repository scope, finds the repository
// named by the path and checks access: repositories the caller cannot see
// are 404 (Gitea hides them); writes by a login without push access are
// 403. ok is false when it answered.
func (g *gitea) repoFor(w http.ResponseWriter, r *http.Request, n giteaNeed) (caller, repoView, bool) {
	c, ok := g.begin(w, r)
	if !ok || !g.scoped(w, r, c, "repository") {
		return c, repoView{}, false
	}
	v, found := g.sim.repo(r.PathValue("owner")+"/"+r.PathValue("repo"), c.login)
	if !found {
		g.notFound(w, r)
		return c, repoView{}, false
	}
	return c, v, g.allowed(w, r, c, v, n)
}

func (g *gitea) allowed(w http.ResponseWriter, r *http.Request, c caller, v repoView, n giteaNeed) bool {
	if !v.Visible {
		g.notFound(w, r)
		return false
	}
	if n == giteaRead {
		return true
	}
	if c.login == "" {
		g.error(w, r, http.StatusUnauthorized, "token is required")
		return false
	}
	if v.Private && g.publicOnly(c) {
		g.error(w, r, http.StatusForbidden, "token scope is limited to public repos")
		return false
	}
	if n == giteaAdmin && !v.Admin {
		g.error(w, r, http.StatusForbidden, "user should be an owner or a collaborator with admin write of a repository")
		return false
	}
	if !v.Push {
		g.error(w, r, http.StatusForbidden, "user should have a permission to write to a repo")
		return false
	}
	return true
}

// paginate picks the page the request asks for ("page", "limit") and sets
// Link and X-Total-Count as Gitea does.
func (g *gitea) paginate(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	per := atoi(q.Get("limit"), giteaDefaultLimit)
	if per <= 0 {
		per = giteaDefaultLimit
	}
	per = min(per, giteaMaxLimit)
	page := max(atoi(q.Get("page"), 1), 1)
	last := max((n+per-1)/per, 1)
	lo = min((page-1)*per, n)
	hi = min(lo+per, n)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		u := url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(min(page-1, last), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ","))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(n))
	return lo, hi
}

func (g *gitea) userJSON(r *http.Request, a account) map[string]any {
	web := g.webBase(r)
	return map[string]any{
		"id":         a.ID,
		"login":      a.Login,
		"login_name": "",
		"full_name":  a.Name,
		"email":      strings.ToLower(a.Login) + "@noreply.localhost",
		"avatar_url": web + "/avatars/" + url.PathEscape(a.Login),
		"html_url":   web + "/" + url.PathEscape(a.Login),
		"language":   "",
		"is_admin":   false,
		"restricted": false,
		"active":     true,
		"visibility": "public",
		"created":    "2026-01-01T00:00:00Z",
		"username":   a.Login,
	}
}

func (g *gitea) repoJSON(r *http.Request, v repoView) map[string]any {
	web := g.webBase(r)
	return map[string]any{
		"id":                v.ID,
		"owner":             g.userJSON(r, g.sim.account(v.Owner)),
		"name":              v.Name,
		"full_name":         v.FullName(),
		"description":       "",
		"empty":             false,
		"private":           v.Private,
		"fork":              false,
		"template":          false,
		"mirror":            false,
		"archived":          false,
		"html_url":          web + "/" + v.FullName(),
		"url":               web + giteaPrefix + "/repos/" + v.FullName(),
		"ssh_url":           "git@" + r.Host + ":" + v.FullName() + ".git",
		"clone_url":         web + "/" + v.FullName() + ".git",
		"default_branch":    v.DefaultBranch,
		"has_pull_requests": true,
		"permissions": map[string]bool{
			"admin": v.Admin, "push": v.Push, "pull": v.Visible,
		},
		"created_at": "2026-01-01T00:00:00Z",
		"updated_at": "2026-01-01T00:00:00Z",
	}
}

func (g *gitea) branchJSON(r *http.Request, v repoView, name, sha string) map[string]any {
	web := g.webBase(r)
	return map[string]any{
		"name": name,
		"commit": map[string]any{
			"id":      sha,
			"message": "Simulated commit\n",
			"url":     web + "/" + v.FullName() + "/commit/" + sha,
			"author":  map[string]string{"name": v.Owner, "email": strings.ToLower(v.Owner) + "@noreply.localhost", "username": v.Owner},
		},
		"protected":                        false,
		"required_approvals":               0,
		"enable_status_check":              false,
		"user_can_push":                    v.Push,
		"user_can_merge":                   v.Push,
		"effective_branch_protection_name": "",
	}
}

func (g *gitea) prJSON(r *http.Request, v repoView, p PR) map[string]any {
	web := g.webBase(r)
	state := "open"
	if !p.Open {
		state = "closed"
	}
	full := v.FullName()
	side := func(branch string) map[string]any {
		return map[string]any{
			"label":   branch,
			"ref":     branch,
			"sha":     g.sim.branchTip(full, branch),
			"repo_id": v.ID,
			"repo":    g.repoJSON(r, v),
		}
	}
	return map[string]any{
		"id":         v.ID*1000 + int64(p.Number),
		"url":        fmt.Sprintf("%s/%s/pulls/%d", web, full, p.Number),
		"number":     p.Number,
		"user":       g.userJSON(r, g.sim.account(p.Author)),
		"title":      p.Title,
		"body":       p.Body,
		"state":      state,
		"draft":      p.Draft,
		"is_locked":  false,
		"html_url":   fmt.Sprintf("%s/%s/pulls/%d", web, full, p.Number),
		"diff_url":   fmt.Sprintf("%s/%s/pulls/%d.diff", web, full, p.Number),
		"patch_url":  fmt.Sprintf("%s/%s/pulls/%d.patch", web, full, p.Number),
		"mergeable":  true,
		"merged":     p.Merged,
		"merged_at":  mergedAt(p),
		"created_at": updatedAt(p.CreatedAt),
		"updated_at": updatedAt(p.UpdatedAt),
		"base":       side(p.Target),
		"head":       side(p.Source),
	}
}

func (g *gitea) getUser(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok || !g.scoped(w, r, c, "user") {
		return
	}
	if c.login == "" {
		g.error(w, r, http.StatusUnauthorized, "token is required")
		return
	}
	writeJSON(w, http.StatusOK, g.userJSON(r, g.sim.account(c.login)))
}

func (g *gitea) listRepos(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok || !g.scoped(w, r, c, "user", "repository") {
		return
	}
	if c.login == "" {
		g.error(w, r, http.StatusUnauthorized, "token is required")
		return
	}
	var list []repoView
	for _, v := range g.sim.memberRepos(c.login) {
		if v.Private && g.publicOnly(c) {
			continue
		}
		list = append(list, v)
	}
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, v := range list[lo:hi] {
		out = append(out, g.repoJSON(r, v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *gitea) getRepoByID(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok || !g.scoped(w, r, c, "repository") {
		return
	}
	if c.login == "" {
		g.error(w, r, http.StatusUnauthorized, "token is required")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	v, found := g.sim.repoByID(id, c.login)
	if err != nil || !found {
		g.notFound(w, r)
		return
	}
	if g.allowed(w, r, c, v, giteaRead) {
		writeJSON(w, http.StatusOK, g.repoJSON(r, v))
	}
}

func (g *gitea) getRepo(w http.ResponseWriter, r *http.Request) {
	if _, v, ok := g.repoFor(w, r, giteaRead); ok {
		writeJSON(w, http.StatusOK, g.repoJSON(r, v))
	}
}

func (g *gitea) listBranches(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaRead)
	if !ok {
		return
	}
	list := g.sim.branchList(v.FullName())
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, b := range list[lo:hi] {
		out = append(out, g.branchJSON(r, v, b.Name, b.SHA))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *gitea) getBranch(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaRead)
	if !ok {
		return
	}
	name := r.PathValue("branch")
	sha, found := g.sim.branchSHA(v.FullName(), name)
	if !found {
		g.notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, g.branchJSON(r, v, name, sha))
}

// createBranch resolves old_ref_name (a branch or a commit id, Gitea 1.21+)
// or the deprecated old_branch_name, else branches from the default branch.
func (g *gitea) createBranch(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaWrite)
	if !ok {
		return
	}
	var body struct {
		NewBranchName string `json:"new_branch_name"`
		OldBranchName string `json:"old_branch_name"`
		OldRefName    string `json:"old_ref_name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, r, http.StatusUnprocessableEntity, "[]: "+err.Error())
		return
	}
	switch {
	case body.NewBranchName == "":
		g.error(w, r, http.StatusUnprocessableEntity, "[NewBranchName]: Required")
		return
	case len(body.NewBranchName) > 100:
		g.error(w, r, http.StatusUnprocessableEntity, "[NewBranchName]: MaxSize")
		return
	}
	full := v.FullName()
	var sha string
	switch {
	case body.OldRefName != "":
		if tip, isBranch := g.sim.branchSHA(full, body.OldRefName); isBranch {
			sha = tip
		} else {
			sha = body.OldRefName
		}
	case body.OldBranchName != "":
		tip, isBranch := g.sim.branchSHA(full, body.OldBranchName)
		if !isBranch {
			g.error(w, r, http.StatusNotFound, "The old branch does not exist")
			return
		}
		sha = tip
	default:
		sha = g.sim.branchTip(full, v.DefaultBranch)
	}
	switch f := g.sim.createBranch(full, body.NewBranchName, sha); f.kind {
	case failNone:
		writeJSON(w, http.StatusCreated, g.branchJSON(r, v, body.NewBranchName, sha))
	case failInvalidRef:
		g.error(w, r, http.StatusUnprocessableEntity, "[NewBranchName]: GitRefName")
	case failObjectMissing:
		// Gitea fails to resolve an unknown commit with an internal error.
		g.error(w, r, http.StatusInternalServerError, "")
	case failRefExists:
		g.error(w, r, http.StatusConflict, "The branch already exists.")
	default: // in the way of another branch (a vs a/b)
		g.error(w, r, http.StatusConflict, "The branch with the same name already exists.")
	}
}

func (g *gitea) deleteBranch(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaWrite)
	if !ok {
		return
	}
	switch f := g.sim.deleteBranch(v.FullName(), r.PathValue("branch")); f.kind {
	case failNone:
		w.WriteHeader(http.StatusNoContent)
	case failDefaultBranch:
		g.error(w, r, http.StatusForbidden, "can not delete default branch")
	default:
		g.notFound(w, r)
	}
}

func (g *gitea) listPulls(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaRead)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	list := g.sim.pulls(v.FullName(), state, "", q.Get("base_branch"))
	if q.Get("sort") == "recentupdate" {
		byUpdated(list)
	}
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, p := range list[lo:hi] {
		out = append(out, g.prJSON(r, v, p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *gitea) createPull(w http.ResponseWriter, r *http.Request) {
	c, v, ok := g.repoFor(w, r, giteaRead)
	if !ok {
		return
	}
	var body struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, r, http.StatusUnprocessableEntity, "[]: "+err.Error())
		return
	}
	if strings.TrimSpace(body.Title) == "" {
		g.error(w, r, http.StatusUnprocessableEntity, "[Title]: Required")
		return
	}
	if body.Head == body.Base {
		g.error(w, r, http.StatusUnprocessableEntity, "Invalid PullRequest: There are no changes between the head and the base")
		return
	}
	source := body.Head
	if owner, branch, qualified := strings.Cut(body.Head, ":"); qualified {
		if !strings.EqualFold(owner, v.Owner) { // forks are not simulated
			g.notFound(w, r)
			return
		}
		source = branch
	}
	p, f := g.sim.createPRAnyDraft(v.FullName(), PR{
		Title: body.Title, Body: body.Body, Source: source, Target: body.Base, Draft: giteaIsWIP(body.Title), Author: c.login,
	})
	switch f.kind {
	case failNone:
		writeJSON(w, http.StatusCreated, g.prJSON(r, v, p))
	case failHeadMissing, failBaseMissing:
		g.notFound(w, r)
	case failSameBranch:
		g.error(w, r, http.StatusUnprocessableEntity, "Invalid PullRequest: There are no changes between the head and the base")
	case failPRExists:
		g.error(w, r, http.StatusConflict, fmt.Sprintf(
			"pull request already exists for these targets [id: %d, issue_id: %d, head_repo_id: %d, base_repo_id: %d, head_branch: %s, base_branch: %s]",
			v.ID*1000+int64(f.pr.Number), f.pr.Number, v.ID, v.ID, f.pr.Source, f.pr.Target))
	default:
		g.error(w, r, http.StatusUnprocessableEntity, "Invalid PullRequest")
	}
}

func (g *gitea) getPull(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaRead)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("index"))
	p, found := g.sim.pull(v.FullName(), n)
	if err != nil || !found {
		g.notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, g.prJSON(r, v, p))
}

// tokenPage stands in for the Applications settings page NewTokenURL links
// to.
func (g *gitea) tokenPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Applications - Gitea (simulated)</title>"+
		"<h1>Manage Access Tokens (simulated)</h1>"+
		"<p>Select permissions: repository <code>%s</code>, user <code>%s</code>.</p>"+
		"<p>This host is gitrelay's simulator; it issues no tokens from this page.</p>",
		html.EscapeString("Read and Write"), html.EscapeString("Read"))
}

func (g *gitea) hookJSON(h Hook) map[string]any {
	contentType := h.ContentType
	if contentType == "" {
		contentType = "json"
	}
	return map[string]any{
		"id": h.ID, "type": "gitea", "branch_filter": "*",
		"config": map[string]string{"content_type": contentType, "http_method": "post", "url": h.URL},
		"events": h.Events, "authorization_header": "", "active": !h.Inactive,
		"updated_at": updatedAt(time.Time{}), "created_at": updatedAt(time.Time{}),
	}
}

// listHooks lists the repository's webhooks: admin rights and the
// repository scope are needed.
func (g *gitea) listHooks(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaAdmin)
	if !ok {
		return
	}
	hooks := g.sim.Hooks(v.FullName())
	lo, hi := g.paginate(w, r, len(hooks))
	out := make([]map[string]any, 0, hi-lo)
	for _, h := range hooks[lo:hi] {
		out = append(out, g.hookJSON(h))
	}
	writeJSON(w, http.StatusOK, out)
}

// giteaHookBody is a webhook as Gitea takes it (CreateHookOption,
// EditHookOption).
type giteaHookBody struct {
	Type   string            `json:"type"`
	Config map[string]string `json:"config"`
	Events []string          `json:"events"`
	Active *bool             `json:"active"`
}

// check refuses a config Gitea refuses (422); ok is false when it
// answered.
func (g *gitea) checkHookConfig(w http.ResponseWriter, r *http.Request, config map[string]string) bool {
	switch {
	case config["url"] == "":
		g.error(w, r, http.StatusUnprocessableEntity, "Missing config option: url")
	case config["content_type"] != "json" && config["content_type"] != "form":
		g.error(w, r, http.StatusUnprocessableEntity, "Invalid content type")
	default:
		return true
	}
	return false
}

func (g *gitea) createHook(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaAdmin)
	if !ok {
		return
	}
	var body giteaHookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if body.Type != "gitea" && body.Type != "forgejo" && body.Type != "gogs" {
		g.error(w, r, http.StatusUnprocessableEntity, "Invalid hook type")
		return
	}
	if !g.checkHookConfig(w, r, body.Config) {
		return
	}
	h := Hook{URL: body.Config["url"], Secret: body.Config["secret"], Format: HookGitea, Events: body.Events,
		ContentType: body.Config["content_type"], Inactive: body.Active == nil || !*body.Active}
	if len(h.Events) == 0 {
		h.Events = []string{"push"}
	}
	writeJSON(w, http.StatusCreated, g.hookJSON(g.sim.createHook(v.FullName(), h)))
}

func (g *gitea) editHook(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, giteaAdmin)
	if !ok {
		return
	}
	var body giteaHookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if body.Config != nil && !g.checkHookConfig(w, r, body.Config) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	h, found := g.sim.updateHook(v.FullName(), id, func(h *Hook) {
		if body.Config != nil {
			h.URL, h.ContentType = body.Config["url"], body.Config["content_type"]
			if secret, given := body.Config["secret"]; given {
				h.Secret = secret
			}
		}
		if body.Events != nil {
			h.Events = body.Events
		}
		if body.Active != nil {
			h.Inactive = !*body.Active
		}
	})
	if !found {
		g.notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, g.hookJSON(h))
}
