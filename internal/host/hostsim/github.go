package hostsim

import (
	"encoding/base64"
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

// GitHub's documentation links, as its error bodies carry them.
const (
	ghDocs          = "https://docs.github.com/rest"
	ghDocsUser      = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
	ghDocsListRepos = "https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user"
	ghDocsRepo      = "https://docs.github.com/rest/repos/repos#get-a-repository"
	ghDocsBranches  = "https://docs.github.com/rest/branches/branches#list-branches"
	ghDocsGetRef    = "https://docs.github.com/rest/git/refs#get-a-reference"
	ghDocsCreateRef = "https://docs.github.com/rest/git/refs#create-a-reference"
	ghDocsDeleteRef = "https://docs.github.com/rest/git/refs#delete-a-reference"
	ghDocsPulls     = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
	ghDocsNewPull   = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
	ghDocsGetPull   = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
	ghDocsHooks     = "https://docs.github.com/rest/repos/webhooks#list-repository-webhooks"
	ghDocsNewHook   = "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook"
	ghDocsEditHook  = "https://docs.github.com/rest/repos/webhooks#update-a-repository-webhook"
	ghDocsPrimary   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	ghDocsSecondary = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

// ghRateLimit is the hourly request allowance GitHub reports for a token
// (60 without one). The simulator reports it but enforces limits only
// through faults.
const (
	ghRateLimit     = 5000
	ghAnonRateLimit = 60
)

// gitHub is the GitHub REST front-end. prefix is "" for GitHub.com (API at
// the root, as api.github.com) or "/api/v3" for GitHub Enterprise Server.
type gitHub struct {
	sim    *Sim
	prefix string
	opMux
}

func newGitHub(s *Sim, prefix string) *gitHub {
	g := &gitHub{sim: s, prefix: prefix, opMux: newOpMux()}
	api := func(method, path string, op Op, h http.HandlerFunc) {
		pattern := method + " " + prefix + path
		g.handle(pattern, op, h)
	}
	api("GET", "/user", OpIdentity, g.getUser)
	api("GET", "/user/repos", OpListRepos, g.listRepos)
	api("GET", "/repositories/{id}", OpGetRepo, g.getRepoByID)
	api("GET", "/repos/{owner}/{repo}", OpGetRepo, g.getRepo)
	api("GET", "/repos/{owner}/{repo}/branches", OpListBranches, g.listBranches)
	api("GET", "/repos/{owner}/{repo}/git/ref/{ref...}", OpGetBranch, g.getRef)
	api("POST", "/repos/{owner}/{repo}/git/refs", OpCreateBranch, g.createRef)
	api("DELETE", "/repos/{owner}/{repo}/git/refs/{ref...}", OpDeleteBranch, g.deleteRef)
	api("GET", "/repos/{owner}/{repo}/pulls", OpListPullRequests, g.listPulls)
	api("POST", "/repos/{owner}/{repo}/pulls", OpCreatePullRequest, g.createPull)
	api("GET", "/repos/{owner}/{repo}/pulls/{number}", OpGetPullRequest, g.getPull)
	api("GET", "/repos/{owner}/{repo}/hooks", OpListHooks, g.listHooks)
	api("POST", "/repos/{owner}/{repo}/hooks", OpCreateHook, g.createHook)
	api("PATCH", "/repos/{owner}/{repo}/hooks/{id}", OpUpdateHook, g.updateHook)
	g.handle("GET /settings/tokens/new", OpWeb, g.tokenPage)
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if g.sim.webPage(w, r) {
			return
		}
		g.error(w, http.StatusNotFound, "Not Found", ghDocs)
	})
	return g
}

// token accepts "Bearer T", "token T" and Basic with the token as password,
// as GitHub does.
func (g *gitHub) token(r *http.Request) string {
	return authorizationToken(r)
}

func (g *gitHub) describe(r *http.Request, body []byte) (repo, ref string) {
	rest, ok := strings.CutPrefix(r.URL.Path, g.prefix+"/repos/")
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
		Ref  string `json:"ref"`
		Head string `json:"head"`
	}
	_ = json.Unmarshal(body, &fields)
	switch tail := "/" + strings.Join(parts[2:], "/"); {
	case strings.HasPrefix(tail, "/git/refs/heads/"):
		ref = strings.TrimPrefix(tail, "/git/refs/heads/")
	case tail == "/git/refs":
		ref = strings.TrimPrefix(fields.Ref, "refs/heads/")
	case tail == "/pulls":
		_, ref, _ = strings.Cut(fields.Head, ":")
		if ref == "" {
			ref = fields.Head
		}
	}
	return repo, ref
}

func (g *gitHub) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	status := f.Status
	if f.RetryAfter > 0 {
		if status == 0 {
			status = http.StatusForbidden
		}
		secs := int64(math.Ceil(f.RetryAfter.Seconds()))
		msg := f.Message
		if f.Secondary {
			if msg == "" {
				msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333:4444."
			}
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			g.error(w, status, msg, ghDocsSecondary)
			return
		}
		if msg == "" {
			msg = "API rate limit exceeded for user. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333:4444."
		}
		reset := g.sim.now().Add(time.Duration(secs) * time.Second).Unix()
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(ghRateLimit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", strconv.Itoa(ghRateLimit))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
		h.Set("X-RateLimit-Resource", "core")
		g.error(w, status, msg, ghDocsPrimary)
		return
	}
	msg := f.Message
	if msg == "" {
		switch status {
		case http.StatusUnauthorized:
			msg = "Bad credentials"
		case http.StatusNotFound:
			msg = "Not Found"
		case http.StatusUnprocessableEntity:
			msg = "Validation Failed"
		case http.StatusInternalServerError, http.StatusBadGateway:
			msg = "Server Error"
		default:
			msg = http.StatusText(status)
		}
	}
	g.error(w, status, msg, ghDocs)
}

// ghErr is one entry of a Validation Failed body's "errors".
type ghErr struct {
	Resource string `json:"resource"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func (g *gitHub) error(w http.ResponseWriter, status int, msg, docs string, errs ...ghErr) {
	body := map[string]any{"message": msg, "documentation_url": docs, "status": strconv.Itoa(status)}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// caller is who a request authenticates as.
type caller struct {
	tok   Token
	login string // "" when anonymous
}

// begin authenticates the request and sets the headers GitHub sends with
// every answer. ok is false when it answered 401.
func (g *gitHub) begin(w http.ResponseWriter, r *http.Request) (c caller, ok bool) {
	value := g.token(r)
	tok, st := g.sim.authenticate(value)
	h := w.Header()
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", "0000:1111:2222:3333:4444")
	limit := ghAnonRateLimit
	if st != authNone {
		limit = ghRateLimit
	}
	used, reset := g.sim.rate(value)
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 1)))
	h.Set("X-RateLimit-Used", strconv.Itoa(min(used, limit-1)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	switch st {
	case authUnknown, authRevoked, authExpired:
		g.error(w, http.StatusUnauthorized, "Bad credentials", ghDocs)
		return caller{}, false
	case authOK:
		if tok.Scopes != nil {
			h.Set("X-OAuth-Scopes", strings.Join(tok.Scopes, ", "))
			h.Set("X-Accepted-OAuth-Scopes", "repo")
		}
		if tok.ExpiresAt != nil {
			h.Set("GitHub-Authentication-Token-Expiration", tok.ExpiresAt.UTC().Format("2006-01-02 15:04:05 MST"))
		}
		return caller{tok: tok, login: tok.Login}, true
	}
	return caller{}, true
}

// need is what an operation requires of a token.
type need int

const (
	needRead     need = iota
	needContents      // write branches
	needPulls         // open pull requests
)

func hasScope(scopes []string, want string) bool { return slices.Contains(scopes, want) }

// allowed decides as GitHub does and answers when it refuses: repositories
// a caller cannot see are 404; a classic token without the repo scope
// cannot see private repositories and cannot write (404, GitHub hides); a
// fine-grained token without a permission gets 403 "Resource not
// accessible by personal access token"; a login without push access gets
// 403 on a repository it can see.
func (g *gitHub) allowed(w http.ResponseWriter, c caller, v repoView, n need, docs string) bool {
	hide := func() bool {
		g.error(w, http.StatusNotFound, "Not Found", docs)
		return false
	}
	if !v.Visible {
		return hide()
	}
	if c.login == "" {
		if n != needRead {
			g.error(w, http.StatusUnauthorized, "Requires authentication", docs)
			return false
		}
		return true
	}
	if c.tok.Scopes != nil {
		repoScope := hasScope(c.tok.Scopes, "repo")
		publicScope := hasScope(c.tok.Scopes, "public_repo") && !v.Private
		if v.Private && !repoScope {
			return hide()
		}
		if n != needRead && !repoScope && !publicScope {
			return hide()
		}
	} else {
		perm := map[need]string{needContents: "contents", needPulls: "pull_requests"}[n]
		if perm != "" && c.tok.Permissions[perm] != "write" {
			w.Header().Set("X-Accepted-GitHub-Permissions", perm+"=write")
			g.error(w, http.StatusForbidden, "Resource not accessible by personal access token", docs)
			return false
		}
	}
	if n == needContents && !v.Push {
		g.error(w, http.StatusForbidden, fmt.Sprintf("Permission to %s denied to %s.", v.FullName(), c.login), docs)
		return false
	}
	return true
}

// repoFor authenticates, finds the repository named by the path and checks
// access; ok is false when it answered.
func (g *gitHub) repoFor(w http.ResponseWriter, r *http.Request, n need, docs string) (caller, repoView, bool) {
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	c, ok := g.begin(w, r)
	if !ok {
		return c, repoView{}, false
	}
	v, found := g.sim.repo(full, c.login)
	if !found {
		g.error(w, http.StatusNotFound, "Not Found", docs)
		return c, repoView{}, false
	}
	return c, v, g.allowed(w, c, v, n, docs)
}

// bases returns the API root and the web root of the request's host.
func (g *gitHub) bases(r *http.Request) (api, web string) {
	web = scheme(r) + "://" + r.Host
	return web + g.prefix, web
}

// scheme is the scheme the client used: a server sees TLS, the in-process
// transport passes the client's URL through.
func scheme(r *http.Request) string {
	switch {
	case r.URL.Scheme != "":
		return r.URL.Scheme
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

// paginate picks the page of n items the request asks for and sets the
// Link header as GitHub does.
func (g *gitHub) paginate(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	per := clamp(atoi(q.Get("per_page"), 30), 1, 100)
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
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return lo, hi
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func clamp(n, lo, hi int) int { return min(max(n, lo), hi) }

func nodeID(prefix string, id int64) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func (g *gitHub) userJSON(r *http.Request, a account, full bool) map[string]any {
	api, web := g.bases(r)
	u := map[string]any{
		"login":      a.Login,
		"id":         a.ID,
		"node_id":    nodeID("U_", a.ID),
		"avatar_url": web + "/avatars/" + url.PathEscape(a.Login),
		"html_url":   web + "/" + url.PathEscape(a.Login),
		"url":        api + "/users/" + url.PathEscape(a.Login),
		"type":       "User",
		"site_admin": false,
	}
	if full {
		u["name"] = a.Name
		u["email"] = nil
		u["company"] = nil
		u["created_at"] = "2011-01-25T18:44:36Z"
	}
	return u
}

func (g *gitHub) repoJSON(r *http.Request, v repoView) map[string]any {
	api, web := g.bases(r)
	visibility := "public"
	if v.Private {
		visibility = "private"
	}
	return map[string]any{
		"id":             v.ID,
		"node_id":        nodeID("R_", v.ID),
		"name":           v.Name,
		"full_name":      v.FullName(),
		"private":        v.Private,
		"visibility":     visibility,
		"owner":          g.userJSON(r, g.sim.account(v.Owner), false),
		"html_url":       web + "/" + v.FullName(),
		"url":            api + "/repos/" + v.FullName(),
		"description":    nil,
		"fork":           false,
		"default_branch": v.DefaultBranch,
		"permissions": map[string]bool{
			"admin": v.Admin, "maintain": v.Admin, "push": v.Push, "triage": v.Push, "pull": v.Visible,
		},
	}
}

func (g *gitHub) refJSON(r *http.Request, full, name, sha string) map[string]any {
	api, _ := g.bases(r)
	return map[string]any{
		"ref":     "refs/heads/" + name,
		"node_id": "REF_" + base64.RawURLEncoding.EncodeToString([]byte(full+":"+name)),
		"url":     api + "/repos/" + full + "/git/refs/heads/" + escapeRef(name),
		"object": map[string]string{
			"sha":  sha,
			"type": "commit",
			"url":  api + "/repos/" + full + "/git/commits/" + sha,
		},
	}
}

func escapeRef(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (g *gitHub) prJSON(r *http.Request, v repoView, p PR) map[string]any {
	api, web := g.bases(r)
	state := "open"
	if !p.Open {
		state = "closed"
	}
	full := v.FullName()
	side := func(branch string) map[string]any {
		return map[string]any{
			"label": v.Owner + ":" + branch,
			"ref":   branch,
			"sha":   g.sim.branchTip(full, branch),
			"user":  g.userJSON(r, g.sim.account(v.Owner), false),
			"repo":  g.repoJSON(r, v),
		}
	}
	return map[string]any{
		"id":         v.ID*1000 + int64(p.Number),
		"node_id":    nodeID("PR_", v.ID*1000+int64(p.Number)),
		"number":     p.Number,
		"state":      state,
		"locked":     false,
		"title":      p.Title,
		"body":       p.Body,
		"draft":      p.Draft,
		"html_url":   fmt.Sprintf("%s/%s/pull/%d", web, full, p.Number),
		"url":        fmt.Sprintf("%s/repos/%s/pulls/%d", api, full, p.Number),
		"user":       g.userJSON(r, g.sim.account(p.Author), false),
		"head":       side(p.Source),
		"base":       side(p.Target),
		"created_at": updatedAt(p.CreatedAt),
		"updated_at": updatedAt(p.UpdatedAt),
		"merged_at":  mergedAt(p),
	}
}

func (g *gitHub) getUser(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok {
		return
	}
	if c.login == "" {
		g.error(w, http.StatusUnauthorized, "Requires authentication", ghDocsUser)
		return
	}
	writeJSON(w, http.StatusOK, g.userJSON(r, g.sim.account(c.login), true))
}

func (g *gitHub) listRepos(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok {
		return
	}
	if c.login == "" {
		g.error(w, http.StatusUnauthorized, "Requires authentication", ghDocsListRepos)
		return
	}
	var list []repoView
	for _, v := range g.sim.memberRepos(c.login) {
		if v.Private && c.tok.Scopes != nil && !hasScope(c.tok.Scopes, "repo") {
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

func (g *gitHub) getRepoByID(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	v, found := g.sim.repoByID(id, c.login)
	if err != nil || !found {
		g.error(w, http.StatusNotFound, "Not Found", ghDocsRepo)
		return
	}
	if g.allowed(w, c, v, needRead, ghDocsRepo) {
		writeJSON(w, http.StatusOK, g.repoJSON(r, v))
	}
}

func (g *gitHub) getRepo(w http.ResponseWriter, r *http.Request) {
	if _, v, ok := g.repoFor(w, r, needRead, ghDocsRepo); ok {
		writeJSON(w, http.StatusOK, g.repoJSON(r, v))
	}
}

func (g *gitHub) listBranches(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, needRead, ghDocsBranches)
	if !ok {
		return
	}
	api, _ := g.bases(r)
	list := g.sim.branchList(v.FullName())
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, b := range list[lo:hi] {
		out = append(out, map[string]any{
			"name":      b.Name,
			"commit":    map[string]string{"sha": b.SHA, "url": api + "/repos/" + v.FullName() + "/commits/" + b.SHA},
			"protected": false,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *gitHub) getRef(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, needRead, ghDocsGetRef)
	if !ok {
		return
	}
	name, isBranch := strings.CutPrefix(r.PathValue("ref"), "heads/")
	sha, found := g.sim.branchSHA(v.FullName(), name)
	if !isBranch || !found {
		g.error(w, http.StatusNotFound, "Not Found", ghDocsGetRef)
		return
	}
	writeJSON(w, http.StatusOK, g.refJSON(r, v.FullName(), name, sha))
}

func (g *gitHub) createRef(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, needContents, ghDocsCreateRef)
	if !ok {
		return
	}
	var body struct {
		Ref *string `json:"ref"`
		SHA *string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, http.StatusBadRequest, "Problems parsing JSON", ghDocsCreateRef)
		return
	}
	switch {
	case body.Ref == nil:
		g.error(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"ref\" wasn't supplied.", ghDocsCreateRef)
		return
	case body.SHA == nil:
		g.error(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.", ghDocsCreateRef)
		return
	case !strings.HasPrefix(*body.Ref, "refs/") || strings.Count(*body.Ref, "/") < 2:
		g.error(w, http.StatusUnprocessableEntity, "Reference name must start with 'refs/' and have at least two slashes.", ghDocsCreateRef)
		return
	}
	name, isBranch := strings.CutPrefix(*body.Ref, "refs/heads/")
	if !isBranch {
		g.error(w, http.StatusUnprocessableEntity, "Reference update failed", ghDocsCreateRef)
		return
	}
	switch f := g.sim.createBranch(v.FullName(), name, *body.SHA); f.kind {
	case failNone:
		api, _ := g.bases(r)
		w.Header().Set("Location", api+"/repos/"+v.FullName()+"/git/refs/heads/"+escapeRef(name))
		writeJSON(w, http.StatusCreated, g.refJSON(r, v.FullName(), name, *body.SHA))
	case failRefExists:
		g.error(w, http.StatusUnprocessableEntity, "Reference already exists", ghDocsCreateRef)
	case failObjectMissing:
		g.error(w, http.StatusUnprocessableEntity, "Object does not exist", ghDocsCreateRef)
	default: // an invalid name, or one in the way of another branch (a vs a/b)
		g.error(w, http.StatusUnprocessableEntity, "Reference update failed", ghDocsCreateRef)
	}
}

func (g *gitHub) deleteRef(w http.ResponseWriter, r *http.Request) {
	name, isBranch := strings.CutPrefix(r.PathValue("ref"), "heads/")
	_, v, ok := g.repoFor(w, r, needContents, ghDocsDeleteRef)
	if !ok {
		return
	}
	if !isBranch {
		g.error(w, http.StatusUnprocessableEntity, "Reference does not exist", ghDocsDeleteRef)
		return
	}
	switch f := g.sim.deleteBranch(v.FullName(), name); f.kind {
	case failNone:
		w.WriteHeader(http.StatusNoContent)
	case failDefaultBranch:
		g.error(w, http.StatusUnprocessableEntity, "Cannot delete the default branch", ghDocsDeleteRef)
	default:
		g.error(w, http.StatusUnprocessableEntity, "Reference does not exist", ghDocsDeleteRef)
	}
}

// headBranch reads a "head" given as "owner:branch" or "branch"; ok is
// false for another owner's branch (forks are not simulated).
func headBranch(v repoView, head string) (string, bool) {
	owner, branch, qualified := strings.Cut(head, ":")
	if !qualified {
		return head, true
	}
	return branch, strings.EqualFold(owner, v.Owner)
}

func (g *gitHub) listPulls(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, needRead, ghDocsPulls)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var list []PR
	source, mine := headBranch(v, q.Get("head"))
	if mine {
		list = g.sim.pulls(v.FullName(), state, source, q.Get("base"))
	}
	if q.Get("sort") == "updated" && q.Get("direction") != "asc" {
		byUpdated(list)
	}
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, p := range list[lo:hi] {
		out = append(out, g.prJSON(r, v, p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *gitHub) createPull(w http.ResponseWriter, r *http.Request) {
	c, v, ok := g.repoFor(w, r, needPulls, ghDocsNewPull)
	if !ok {
		return
	}
	var body struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, http.StatusBadRequest, "Problems parsing JSON", ghDocsNewPull)
		return
	}
	source, mine := headBranch(v, body.Head)
	invalid := func(field, code string) {
		g.error(w, http.StatusUnprocessableEntity, "Validation Failed", ghDocsNewPull,
			ghErr{Resource: "PullRequest", Field: field, Code: code})
	}
	custom := func(msg string) {
		g.error(w, http.StatusUnprocessableEntity, "Validation Failed", ghDocsNewPull,
			ghErr{Resource: "PullRequest", Code: "custom", Message: msg})
	}
	if !mine {
		invalid("head", "invalid")
		return
	}
	p, f := g.sim.openPR(v.FullName(), PR{
		Title: body.Title, Body: body.Body, Source: source, Target: body.Base, Draft: body.Draft, Author: c.login,
	}, prRules{refuseDrafts: true, refuseEmpty: true})
	switch f.kind {
	case failNone:
		writeJSON(w, http.StatusCreated, g.prJSON(r, v, p))
	case failInvalid:
		invalid(f.field, "missing_field")
	case failHeadMissing:
		invalid("head", "invalid")
	case failBaseMissing:
		invalid("base", "invalid")
	case failSameBranch, failNoCommits:
		custom(fmt.Sprintf("No commits between %s and %s", body.Base, source))
	case failPRExists:
		custom(fmt.Sprintf("A pull request already exists for %s:%s.", v.Owner, source))
	case failDraftUnsupported:
		g.error(w, http.StatusUnprocessableEntity, "Draft pull requests are not supported in this repository.", ghDocsNewPull)
	default:
		invalid("", "invalid")
	}
}

func (g *gitHub) getPull(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.repoFor(w, r, needRead, ghDocsGetPull)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("number"))
	p, found := g.sim.pull(v.FullName(), n)
	if err != nil || !found {
		g.error(w, http.StatusNotFound, "Not Found", ghDocsGetPull)
		return
	}
	writeJSON(w, http.StatusOK, g.prJSON(r, v, p))
}

// tokenPage stands in for the token-creation page NewTokenURL links to.
func (g *gitHub) tokenPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>New personal access token (simulated)</title>"+
		"<h1>New personal access token (simulated)</h1>"+
		"<p>Note: <code>%s</code>; scopes: <code>%s</code>.</p>"+
		"<p>This host is gitrelay's simulator; it issues no tokens from this page.</p>",
		html.EscapeString(q.Get("description")), html.EscapeString(q.Get("scopes")))
}

// hookRepo authenticates a request to the webhook endpoints and checks
// what GitHub asks of them: admin rights on the repository, and a classic
// token's repo, admin:repo_hook or write:repo_hook scope (read:repo_hook
// will do to list) or a fine-grained token's Webhooks permission. Like
// GitHub it answers 404 to an account without admin rights or a classic
// token without the scope, and 403 to a fine-grained token without the
// permission; ok is false when it answered.
func (g *gitHub) hookRepo(w http.ResponseWriter, r *http.Request, write bool, docs string) (repoView, bool) {
	c, ok := g.begin(w, r)
	if !ok {
		return repoView{}, false
	}
	v, found := g.sim.repo(r.PathValue("owner")+"/"+r.PathValue("repo"), c.login)
	if !found || !v.Visible || c.login == "" {
		g.error(w, http.StatusNotFound, "Not Found", docs)
		return repoView{}, false
	}
	if c.tok.Scopes != nil {
		allowed := []string{"repo", "admin:repo_hook", "write:repo_hook"}
		if !write {
			allowed = append(allowed, "read:repo_hook")
		}
		if !slices.ContainsFunc(c.tok.Scopes, func(s string) bool { return slices.Contains(allowed, s) }) {
			g.error(w, http.StatusNotFound, "Not Found", docs)
			return repoView{}, false
		}
	} else if level := c.tok.Permissions["webhooks"]; level != "write" && (write || level != "read") {
		want := "webhooks=read"
		if write {
			want = "webhooks=write"
		}
		w.Header().Set("X-Accepted-GitHub-Permissions", want)
		g.error(w, http.StatusForbidden, "Resource not accessible by personal access token", docs)
		return repoView{}, false
	}
	if !v.Admin {
		g.error(w, http.StatusNotFound, "Not Found", docs)
		return repoView{}, false
	}
	return v, true
}

func (g *gitHub) hookJSON(r *http.Request, v repoView, h Hook) map[string]any {
	api, _ := g.bases(r)
	self := fmt.Sprintf("%s/repos/%s/hooks/%d", api, v.FullName(), h.ID)
	contentType := h.ContentType
	if contentType == "" {
		contentType = "json"
	}
	config := map[string]any{"content_type": contentType, "insecure_ssl": "0", "url": h.URL}
	if h.Secret != "" {
		config["secret"] = "********"
	}
	return map[string]any{
		"type": "Repository", "id": h.ID, "name": "web", "active": !h.Inactive, "events": h.Events, "config": config,
		"updated_at": updatedAt(time.Time{}), "created_at": updatedAt(time.Time{}),
		"url": self, "test_url": self + "/test", "ping_url": self + "/pings", "deliveries_url": self + "/deliveries",
		"last_response": map[string]any{"code": nil, "status": "unused", "message": nil},
	}
}

func (g *gitHub) listHooks(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookRepo(w, r, false, ghDocsHooks)
	if !ok {
		return
	}
	hooks := g.sim.Hooks(v.FullName())
	lo, hi := g.paginate(w, r, len(hooks))
	out := make([]map[string]any, 0, hi-lo)
	for _, h := range hooks[lo:hi] {
		out = append(out, g.hookJSON(r, v, h))
	}
	writeJSON(w, http.StatusOK, out)
}

// ghHookConfig is a hook's config as GitHub takes it.
type ghHookConfig struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Secret      string `json:"secret"`
}

func (g *gitHub) createHook(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookRepo(w, r, true, ghDocsNewHook)
	if !ok {
		return
	}
	var body struct {
		Name   *string       `json:"name"`
		Config *ghHookConfig `json:"config"`
		Events []string      `json:"events"`
		Active *bool         `json:"active"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, http.StatusBadRequest, "Problems parsing JSON", ghDocsNewHook)
		return
	}
	switch {
	case body.Name != nil && *body.Name != "web":
		g.error(w, http.StatusUnprocessableEntity, "Validation Failed", ghDocsNewHook, ghErr{Resource: "Hook", Field: "name", Code: "invalid"})
		return
	case body.Config == nil || body.Config.URL == "":
		g.error(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"url\" wasn't supplied.", ghDocsNewHook)
		return
	}
	h := Hook{URL: body.Config.URL, Secret: body.Config.Secret, Format: HookGitHub, Events: body.Events,
		Inactive: body.Active != nil && !*body.Active, ContentType: body.Config.ContentType}
	if len(h.Events) == 0 {
		h.Events = []string{"push"}
	}
	if h.ContentType == "" {
		h.ContentType = "form"
	}
	for _, o := range g.sim.Hooks(v.FullName()) {
		if o.URL == h.URL && slices.ContainsFunc(o.Events, func(e string) bool { return slices.Contains(h.Events, e) }) {
			g.error(w, http.StatusUnprocessableEntity, "Validation Failed", ghDocsNewHook,
				ghErr{Resource: "Hook", Code: "custom", Message: "Hook already exists on this repository"})
			return
		}
	}
	writeJSON(w, http.StatusCreated, g.hookJSON(r, v, g.sim.createHook(v.FullName(), h)))
}

func (g *gitHub) updateHook(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookRepo(w, r, true, ghDocsEditHook)
	if !ok {
		return
	}
	var body struct {
		Config *ghHookConfig `json:"config"`
		Events []string      `json:"events"`
		Active *bool         `json:"active"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		g.error(w, http.StatusBadRequest, "Problems parsing JSON", ghDocsEditHook)
		return
	}
	if body.Config != nil && body.Config.URL == "" {
		g.error(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"url\" wasn't supplied.", ghDocsEditHook)
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	h, found := g.sim.updateHook(v.FullName(), id, func(h *Hook) {
		if c := body.Config; c != nil {
			h.URL, h.ContentType = c.URL, c.ContentType
			if c.Secret != "" {
				h.Secret = c.Secret
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
		g.error(w, http.StatusNotFound, "Not Found", ghDocsEditHook)
		return
	}
	writeJSON(w, http.StatusOK, g.hookJSON(r, v, h))
}
