package hostsim

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitLab's rate limit for authenticated API requests on GitLab.com, per
// minute, as its RateLimit-Limit header reports it. The simulator reports
// it but enforces limits only through faults.
const glRateLimit = 2000

// GitLab access levels.
const (
	glReporter  = 20
	glDeveloper = 30
	glOwner     = 50
)

// gitLab is the GitLab REST API (v4) front-end. root is the server's
// relative root ("" or "/gitlab"); the API lives at root/api/v4 and web
// pages at root.
//
// The simulator's repositories map to GitLab projects: Owner is the
// namespace (a user when a token logs in as it, else a group), Name the
// project's name and path. The owner is the project's Owner (50), Writers
// are Developers (30), Readers are Reporters (20).
type gitLab struct {
	sim  *Sim
	root string
	api  string // root + "/api/v4"
	opMux
}

// GitLab serves the GitLab REST API at /api/v4/ (as gitlab.com does), with
// the personal access token page at /-/user_settings/personal_access_tokens.
func (s *Sim) GitLab() http.Handler { return s.handler(newGitLab(s, "")) }

// GitLabUnder serves the GitLab API of a server installed under a relative
// root such as "/gitlab": the API at root/api/v4/, web pages under root.
func (s *Sim) GitLabUnder(root string) http.Handler {
	return s.handler(newGitLab(s, "/"+strings.Trim(root, "/")))
}

func newGitLab(s *Sim, root string) *gitLab {
	if root == "/" {
		root = ""
	}
	g := &gitLab{sim: s, root: root, api: root + "/api/v4", opMux: newOpMux()}
	api := func(method, path string, op Op, h http.HandlerFunc) {
		pattern := method + " " + g.api + path
		g.handle(pattern, op, h)
	}
	api("GET", "/personal_access_tokens/self", OpIdentity, g.tokenSelf)
	api("GET", "/user", OpIdentity, g.getUser)
	api("GET", "/projects", OpListRepos, g.listProjects)
	api("GET", "/projects/{id}", OpGetRepo, g.getProject)
	api("GET", "/projects/{id}/repository/branches", OpListBranches, g.listBranches)
	api("GET", "/projects/{id}/repository/branches/{branch}", OpGetBranch, g.getBranch)
	api("POST", "/projects/{id}/repository/branches", OpCreateBranch, g.createBranch)
	api("DELETE", "/projects/{id}/repository/branches/{branch}", OpDeleteBranch, g.deleteBranch)
	api("GET", "/projects/{id}/merge_requests", OpListPullRequests, g.listMRs)
	api("POST", "/projects/{id}/merge_requests", OpCreatePullRequest, g.createMR)
	api("GET", "/projects/{id}/merge_requests/{iid}", OpGetPullRequest, g.getMR)
	api("GET", "/projects/{id}/hooks", OpListHooks, g.listHooks)
	api("POST", "/projects/{id}/hooks", OpCreateHook, g.createHook)
	api("PUT", "/projects/{id}/hooks/{hook_id}", OpUpdateHook, g.updateHook)
	api("POST", "/projects/{id}/hooks/{hook_id}/test/{trigger}", OpUpdateHook, g.testHook)
	page := "GET " + root + "/-/user_settings/personal_access_tokens"
	g.ops[page] = OpWeb
	g.mux.HandleFunc(page, g.tokenPage)
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if g.sim.webPage(w, r) {
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	})
	return g
}

// token accepts the PRIVATE-TOKEN header and "Authorization: Bearer", as
// GitLab does.
func (g *gitLab) token(r *http.Request) string {
	if v := strings.TrimSpace(r.Header.Get("PRIVATE-TOKEN")); v != "" {
		return v
	}
	scheme, value, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(value)
	}
	return ""
}

// describe reads the project from the path and the branch from the path
// (deletion) or the body (creation of a branch or merge request).
func (g *gitLab) describe(r *http.Request, body []byte) (repo, ref string) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), g.api+"/projects/")
	if !ok {
		return "", ""
	}
	parts := strings.SplitN(rest, "/", 2)
	id, err := url.PathUnescape(parts[0])
	if err != nil {
		return "", ""
	}
	if v, found := g.project(id, ""); found {
		repo = v.FullName()
	}
	tail := ""
	if len(parts) == 2 {
		tail = parts[1]
	}
	var fields struct {
		Branch       string `json:"branch"`
		SourceBranch string `json:"source_branch"`
	}
	_ = json.Unmarshal(body, &fields)
	switch {
	case strings.HasPrefix(tail, "repository/branches/"):
		ref, _ = url.PathUnescape(strings.TrimPrefix(tail, "repository/branches/"))
	case tail == "repository/branches":
		ref = fields.Branch
	case tail == "merge_requests":
		ref = fields.SourceBranch
	}
	return repo, ref
}

// fault answers as GitLab does: 429 from its rate limiter with
// Retry-After and RateLimit-* headers and a plain "Retry later" body;
// other statuses with GitLab's JSON error body, or the HTML page its
// proxy serves when the application is down (502, 503, 504).
func (g *gitLab) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.RetryAfter > 0 {
		secs := int64(math.Ceil(f.RetryAfter.Seconds()))
		reset := g.sim.now().Add(time.Duration(secs) * time.Second)
		h := w.Header()
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("RateLimit-Name", "throttle_authenticated_api")
		h.Set("RateLimit-Limit", strconv.Itoa(glRateLimit))
		h.Set("RateLimit-Observed", strconv.Itoa(glRateLimit+1))
		h.Set("RateLimit-Remaining", "0")
		h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		msg := f.Message
		if msg == "" {
			msg = "Retry later"
		}
		fmt.Fprintln(w, msg)
		return
	}
	status := f.Status
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if f.Message == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>GitLab is not responding (%d)</title></head>"+
				"<body><h1>%d</h1><h3>GitLab is not responding.</h3><hr><p>Please contact your GitLab administrator if this problem persists.</p></body></html>\n", status, status)
			return
		}
	}
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	g.error(w, status, msg)
}

// error writes GitLab's usual error body, {"message": msg}.
func (g *gitLab) error(w http.ResponseWriter, status int, msg any) {
	writeJSON(w, status, map[string]any{"message": msg})
}

// begin authenticates the request and sets the headers GitLab.com sends
// with every API answer. ok is false when it answered 401.
func (g *gitLab) begin(w http.ResponseWriter, r *http.Request) (c caller, ok bool) {
	value := g.token(r)
	tok, st := g.sim.authenticate(value)
	h := w.Header()
	h.Set("X-Request-Id", "01JD5GQ3T7W2Y9Z6K8M4N0P1R3")
	h.Set("X-Gitlab-Meta", `{"correlation_id":"01JD5GQ3T7W2Y9Z6K8M4N0P1R3","version":"1"}`)
	used, _ := g.sim.rate(value)
	now := g.sim.now()
	reset := now.Truncate(time.Minute).Add(time.Minute)
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Limit", strconv.Itoa(glRateLimit))
	h.Set("RateLimit-Observed", strconv.Itoa(min(used, glRateLimit-1)))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(glRateLimit-used, 1)))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
	invalid := func(desc string) {
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", error="invalid_token", error_description=%q`, desc))
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc})
	}
	switch st {
	case authUnknown:
		g.error(w, http.StatusUnauthorized, "401 Unauthorized")
		return caller{}, false
	case authRevoked:
		invalid("Token was revoked. You have to re-authorize from the user.")
		return caller{}, false
	case authExpired:
		invalid("Token is expired. You can either do re-authorization or token refresh.")
		return caller{}, false
	case authOK:
		return caller{tok: tok, login: tok.Login}, true
	}
	return caller{}, true
}

// glNeed is what an endpoint requires of a token's scopes.
type glNeed int

const (
	glAny   glNeed = iota // any scope: the token's own details
	glUser                // read_user, read_api or api: the account
	glRead                // read_api or api
	glWrite               // api
)

// scoped answers 403 insufficient_scope, as GitLab does, when the token's
// scopes do not open the endpoint; anonymous requests pass (the endpoint
// decides what they may see).
func (g *gitLab) scoped(w http.ResponseWriter, c caller, n glNeed) bool {
	if c.login == "" || n == glAny {
		return true
	}
	ok := map[glNeed][]string{
		glUser:  {"api", "read_api", "read_user"},
		glRead:  {"api", "read_api"},
		glWrite: {"api"},
	}[n]
	for _, s := range c.tok.Scopes {
		if slices.Contains(ok, s) {
			return true
		}
	}
	desc := "The request requires higher privileges than provided by the access token."
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", error="insufficient_scope", error_description=%q, scope=%q`, desc, strings.Join(ok, " ")))
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": desc, "scope": strings.Join(ok, " ")})
	return false
}

// glAccessLevel is a login's role in a project (0: none).
func glAccessLevel(v repoView) int {
	switch {
	case v.Admin:
		return glOwner
	case v.Push:
		return glDeveloper
	case v.Member:
		return glReporter
	}
	return 0
}

// project finds a project by numeric id or by its URL-encoded path
// ("acme%2Fwidgets", already decoded here).
func (g *gitLab) project(id, login string) (repoView, bool) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return g.sim.repoByID(n, login)
	}
	return g.sim.repo(id, login)
}

// projectFor authenticates, checks scopes, finds the project named by the
// path and checks access; ok is false when it answered. Projects a caller
// cannot see are 404, as GitLab hides them; a write without the
// Developer role is 403.
func (g *gitLab) projectFor(w http.ResponseWriter, r *http.Request, n glNeed) (caller, repoView, bool) {
	c, ok := g.begin(w, r)
	if !ok || !g.scoped(w, c, n) {
		return c, repoView{}, false
	}
	v, found := g.project(r.PathValue("id"), c.login)
	if !found || !v.Visible {
		g.error(w, http.StatusNotFound, "404 Project Not Found")
		return c, repoView{}, false
	}
	if n == glWrite {
		if c.login == "" {
			g.error(w, http.StatusUnauthorized, "401 Unauthorized")
			return c, repoView{}, false
		}
		if !v.Push {
			g.error(w, http.StatusForbidden, "403 Forbidden")
			return c, repoView{}, false
		}
	}
	return c, v, true
}

// web is the server's web address as the client reached it.
func (g *gitLab) web(r *http.Request) string { return scheme(r) + "://" + r.Host + g.root }

// namespaceKind is "user" for a login's personal namespace, else "group".
func (g *gitLab) namespaceKind(owner string) string {
	g.sim.mu.Lock()
	defer g.sim.mu.Unlock()
	for _, t := range g.sim.tokens {
		if strings.EqualFold(t.Login, owner) {
			return "user"
		}
	}
	return "group"
}

const glCreatedAt = "2026-01-05T09:30:00.000Z"

func (g *gitLab) projectJSON(r *http.Request, v repoView, c caller, simple bool) map[string]any {
	web := g.web(r)
	full := v.FullName()
	visibility := "public"
	if v.Private {
		visibility = "private"
	}
	p := map[string]any{
		"id":                  v.ID,
		"description":         nil,
		"name":                v.Name,
		"name_with_namespace": v.Owner + " / " + v.Name,
		"path":                v.Name,
		"path_with_namespace": full,
		"created_at":          glCreatedAt,
		"default_branch":      v.DefaultBranch,
		"tag_list":            []string{},
		"topics":              []string{},
		"ssh_url_to_repo":     "git@" + r.Host + ":" + full + ".git",
		"http_url_to_repo":    web + "/" + full + ".git",
		"web_url":             web + "/" + full,
		"readme_url":          nil,
		"forks_count":         0,
		"avatar_url":          nil,
		"star_count":          0,
		"last_activity_at":    glCreatedAt,
		"namespace": map[string]any{
			"id":         g.sim.account(v.Owner).ID,
			"name":       v.Owner,
			"path":       v.Owner,
			"kind":       g.namespaceKind(v.Owner),
			"full_path":  v.Owner,
			"parent_id":  nil,
			"avatar_url": nil,
			"web_url":    web + "/" + v.Owner,
		},
	}
	if simple {
		return p
	}
	p["visibility"] = visibility
	p["archived"] = false
	p["empty_repo"] = false
	p["merge_requests_enabled"] = true
	var access any
	if level := glAccessLevel(v); level > 0 && c.login != "" {
		access = map[string]int{"access_level": level, "notification_level": 3}
	}
	p["permissions"] = map[string]any{"project_access": access, "group_access": nil}
	return p
}

func (g *gitLab) userJSON(r *http.Request, a account) map[string]any {
	web := g.web(r)
	return map[string]any{
		"id":         a.ID,
		"username":   a.Login,
		"name":       a.Name,
		"state":      "active",
		"locked":     false,
		"avatar_url": web + "/uploads/-/system/user/avatar/" + strconv.FormatInt(a.ID, 10) + "/avatar.png",
		"web_url":    web + "/" + a.Login,
	}
}

func (g *gitLab) branchJSON(r *http.Request, v repoView, b branch) map[string]any {
	web := g.web(r)
	full := v.FullName()
	return map[string]any{
		"name":                 b.Name,
		"merged":               false,
		"protected":            b.Name == v.DefaultBranch,
		"default":              b.Name == v.DefaultBranch,
		"developers_can_push":  false,
		"developers_can_merge": false,
		"can_push":             v.Push,
		"web_url":              web + "/" + full + "/-/tree/" + escapeRef(b.Name),
		"commit": map[string]any{
			"id":              b.SHA,
			"short_id":        b.SHA[:min(8, len(b.SHA))],
			"created_at":      glCreatedAt,
			"parent_ids":      []string{},
			"title":           "Commit on " + b.Name,
			"message":         "Commit on " + b.Name,
			"author_name":     v.Owner,
			"author_email":    v.Owner + "@example.com",
			"authored_date":   glCreatedAt,
			"committer_name":  v.Owner,
			"committer_email": v.Owner + "@example.com",
			"committed_date":  glCreatedAt,
			"web_url":         web + "/" + full + "/-/commit/" + b.SHA,
		},
	}
}

func (g *gitLab) mrJSON(r *http.Request, v repoView, p PR) map[string]any {
	web := g.web(r)
	full := v.FullName()
	state := "opened"
	switch {
	case p.Merged:
		state = "merged"
	case !p.Open:
		state = "closed"
	}
	return map[string]any{
		"id":                           v.ID*1000 + int64(p.Number),
		"iid":                          p.Number,
		"project_id":                   v.ID,
		"title":                        p.Title,
		"description":                  p.Body,
		"state":                        state,
		"created_at":                   glTime(p.CreatedAt),
		"updated_at":                   glTime(p.UpdatedAt),
		"target_branch":                p.Target,
		"source_branch":                p.Source,
		"author":                       g.userJSON(r, g.sim.account(p.Author)),
		"source_project_id":            v.ID,
		"target_project_id":            v.ID,
		"draft":                        p.Draft,
		"work_in_progress":             p.Draft,
		"merge_when_pipeline_succeeds": false,
		"merge_status":                 "can_be_merged",
		"detailed_merge_status":        "mergeable",
		"sha":                          g.sim.branchTip(full, p.Source),
		"references": map[string]string{
			"short": fmt.Sprintf("!%d", p.Number), "relative": fmt.Sprintf("!%d", p.Number), "full": fmt.Sprintf("%s!%d", full, p.Number),
		},
		"web_url": fmt.Sprintf("%s/%s/-/merge_requests/%d", web, full, p.Number),
	}
}

// glFormatExpiry renders a token's expiry as GitLab does: a date, the day
// the token stops working (at 00:00 UTC).
func glFormatExpiry(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}

func (g *gitLab) tokenSelf(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok {
		return
	}
	if c.login == "" {
		g.error(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	sum := sha256.Sum256([]byte(c.tok.Value))
	var expires any
	if c.tok.ExpiresAt != nil {
		expires = glFormatExpiry(*c.tok.ExpiresAt)
	}
	scopes := c.tok.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":           int64(binary.BigEndian.Uint32(sum[:4]) >> 1),
		"name":         "gitrelay",
		"revoked":      false,
		"created_at":   glCreatedAt,
		"description":  "",
		"scopes":       scopes,
		"user_id":      g.sim.account(c.login).ID,
		"last_used_at": g.sim.now().UTC().Format(time.RFC3339),
		"active":       true,
		"expires_at":   expires,
	})
}

func (g *gitLab) getUser(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok {
		return
	}
	if c.login == "" {
		g.error(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if !g.scoped(w, c, glUser) {
		return
	}
	u := g.userJSON(r, g.sim.account(c.login))
	u["bot"] = false
	u["created_at"] = glCreatedAt
	u["public_email"] = nil
	u["email"] = strings.ToLower(c.login) + "@example.com"
	u["two_factor_enabled"] = false
	u["external"] = false
	u["private_profile"] = false
	writeJSON(w, http.StatusOK, u)
}

// visibleProjects lists the projects login may see, member or not.
func (g *gitLab) visibleProjects(login string, membership bool) []repoView {
	if membership {
		return g.sim.memberRepos(login)
	}
	g.sim.mu.Lock()
	defer g.sim.mu.Unlock()
	var out []repoView
	for _, r := range g.sim.repos {
		if v := view(r, login); v.Visible {
			out = append(out, v)
		}
	}
	return out
}

func (g *gitLab) listProjects(w http.ResponseWriter, r *http.Request) {
	c, ok := g.begin(w, r)
	if !ok || !g.scoped(w, c, glRead) {
		return
	}
	q := r.URL.Query()
	membership := q.Get("membership") == "true" && c.login != ""
	minLevel := atoi(q.Get("min_access_level"), 0)
	search := strings.ToLower(q.Get("search"))
	withNamespaces := q.Get("search_namespaces") == "true"
	var list []repoView
	for _, v := range g.visibleProjects(c.login, membership) {
		if minLevel > 0 && glAccessLevel(v) < minLevel {
			continue
		}
		if search != "" {
			hay := strings.ToLower(v.Name)
			if withNamespaces {
				hay = strings.ToLower(v.FullName())
			}
			if !strings.Contains(hay, search) {
				continue
			}
		}
		list = append(list, v)
	}
	desc := q.Get("sort") == "desc"
	slices.SortFunc(list, func(a, b repoView) int {
		if desc {
			a, b = b, a
		}
		return cmp.Compare(a.ID, b.ID)
	})
	simple := q.Get("simple") == "true"
	render := func(page []repoView) {
		out := make([]map[string]any, 0, len(page))
		for _, v := range page {
			out = append(out, g.projectJSON(r, v, c, simple))
		}
		writeJSON(w, http.StatusOK, out)
	}
	if q.Get("pagination") == "keyset" {
		if ob := q.Get("order_by"); ob != "" && ob != "id" {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "Keyset pagination is not yet available for this type of request"})
			return
		}
		per := clamp(atoi(q.Get("per_page"), 20), 1, 100)
		if after := q.Get("id_after"); after != "" {
			n := int64(atoi(after, 0))
			list = slices.DeleteFunc(list, func(v repoView) bool { return v.ID <= n })
		}
		if before := q.Get("id_before"); before != "" {
			n := int64(atoi(before, 0))
			list = slices.DeleteFunc(list, func(v repoView) bool { return v.ID >= n })
		}
		if len(list) > per {
			list = list[:per]
			q.Del("id_before")
			q.Set("id_after", strconv.FormatInt(list[len(list)-1].ID, 10))
			u := url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
			w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
		}
		render(list)
		return
	}
	lo, hi := g.paginate(w, r, len(list))
	render(list[lo:hi])
}

// paginate picks the page of n items the request asks for and sets
// GitLab's offset pagination headers.
func (g *gitLab) paginate(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	per := clamp(atoi(q.Get("per_page"), 20), 1, 100)
	page := max(atoi(q.Get("page"), 1), 1)
	last := max((n+per-1)/per, 1)
	lo = min((page-1)*per, n)
	hi = min(lo+per, n)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(n))
	h.Set("X-Total-Pages", strconv.Itoa(last))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		u := url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(min(page-1, last)))
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(last, "last"))
	h.Set("Link", strings.Join(links, ", "))
	return lo, hi
}

func (g *gitLab) getProject(w http.ResponseWriter, r *http.Request) {
	if c, v, ok := g.projectFor(w, r, glRead); ok {
		writeJSON(w, http.StatusOK, g.projectJSON(r, v, c, false))
	}
}

// glMatchBranch applies GitLab's branch search: case-insensitive substring,
// with "^" anchoring at the start and "$" at the end.
func glMatchBranch(name, search string) bool {
	if search == "" {
		return true
	}
	name, search = strings.ToLower(name), strings.ToLower(search)
	prefix := strings.HasPrefix(search, "^")
	suffix := strings.HasSuffix(search, "$")
	search = strings.TrimSuffix(strings.TrimPrefix(search, "^"), "$")
	switch {
	case prefix && suffix:
		return name == search
	case prefix:
		return strings.HasPrefix(name, search)
	case suffix:
		return strings.HasSuffix(name, search)
	}
	return strings.Contains(name, search)
}

func (g *gitLab) listBranches(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.projectFor(w, r, glRead)
	if !ok {
		return
	}
	search := r.URL.Query().Get("search")
	var list []branch
	for _, b := range g.sim.branchList(v.FullName()) {
		if glMatchBranch(b.Name, search) {
			list = append(list, b)
		}
	}
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, b := range list[lo:hi] {
		out = append(out, g.branchJSON(r, v, b))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *gitLab) getBranch(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.projectFor(w, r, glRead)
	if !ok {
		return
	}
	name := r.PathValue("branch")
	sha, found := g.sim.branchSHA(v.FullName(), name)
	if !found {
		g.error(w, http.StatusNotFound, "404 Branch Not Found")
		return
	}
	writeJSON(w, http.StatusOK, g.branchJSON(r, v, branch{Name: name, SHA: sha}))
}

// glParams reads a write's parameters from a JSON body, a form or the query,
// as GitLab's API accepts all three.
func glParams(r *http.Request) (map[string]string, bool) {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, false
		}
		for k, v := range body {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64, bool:
				out[k] = fmt.Sprint(v)
			}
		}
	} else if err := r.ParseForm(); err != nil {
		return nil, false
	}
	for k := range r.Form {
		if _, set := out[k]; !set {
			out[k] = r.Form.Get(k)
		}
	}
	for k, vs := range r.URL.Query() {
		if _, set := out[k]; !set && len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out, true
}

// missing answers as GitLab's parameter validation does.
func (g *gitLab) missing(w http.ResponseWriter, p map[string]string, names ...string) bool {
	var gone []string
	for _, n := range names {
		if strings.TrimSpace(p[n]) == "" {
			gone = append(gone, n+" is missing")
		}
	}
	if len(gone) == 0 {
		return false
	}
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": strings.Join(gone, ", ")})
	return true
}

func (g *gitLab) createBranch(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.projectFor(w, r, glWrite)
	if !ok {
		return
	}
	p, ok := glParams(r)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "The provided content-type 'application/json' is not supported."})
		return
	}
	if g.missing(w, p, "branch", "ref") {
		return
	}
	name, ref := p["branch"], p["ref"]
	sha := ref
	if tip, isBranch := g.sim.branchSHA(v.FullName(), ref); isBranch {
		sha = tip
	}
	switch f := g.sim.createBranch(v.FullName(), name, sha); f.kind {
	case failNone:
		writeJSON(w, http.StatusCreated, g.branchJSON(r, v, branch{Name: name, SHA: sha}))
	case failRefExists:
		g.error(w, http.StatusBadRequest, "Branch already exists")
	case failObjectMissing:
		g.error(w, http.StatusBadRequest, "Invalid reference name: "+ref)
	case failInvalidRef:
		g.error(w, http.StatusBadRequest, "Branch name is invalid")
	case failRefConflict:
		// Gitaly's words when refs/heads/a and refs/heads/a/b collide.
		g.error(w, http.StatusBadRequest, fmt.Sprintf("Failed to create branch '%s': 9:cannot lock ref 'refs/heads/%s': 'refs/heads/%s' exists; cannot create 'refs/heads/%s'.", name, name, f.conflict, name))
	default:
		g.error(w, http.StatusBadRequest, "Failed to create branch '"+name+"'")
	}
}

func (g *gitLab) deleteBranch(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.projectFor(w, r, glWrite)
	if !ok {
		return
	}
	switch f := g.sim.deleteBranch(v.FullName(), r.PathValue("branch")); f.kind {
	case failNone:
		w.WriteHeader(http.StatusNoContent)
	case failDefaultBranch:
		g.error(w, http.StatusMethodNotAllowed, "The default branch of a project cannot be deleted.")
	default:
		g.error(w, http.StatusNotFound, "404 Branch Not Found")
	}
}

func (g *gitLab) listMRs(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.projectFor(w, r, glRead)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := map[string]string{"opened": "open", "closed": "closed", "merged": "closed", "locked": "open"}[q.Get("state")]
	if state == "" {
		state = "all"
	}
	list := g.sim.pulls(v.FullName(), state, q.Get("source_branch"), q.Get("target_branch"))
	slices.Reverse(list) // newest first, as GitLab orders by created_at desc
	if q.Get("order_by") == "updated_at" && q.Get("sort") != "asc" {
		byUpdated(list)
	}
	if after, err := time.Parse(time.RFC3339, q.Get("updated_after")); err == nil {
		list = slices.DeleteFunc(list, func(p PR) bool { return !p.UpdatedAt.After(after) })
	}
	lo, hi := g.paginate(w, r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, p := range list[lo:hi] {
		out = append(out, g.mrJSON(r, v, p))
	}
	writeJSON(w, http.StatusOK, out)
}

// glDraft matches the title prefixes that make a GitLab merge request a
// draft.
var glDraft = regexp.MustCompile(`(?i)^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)`)

func (g *gitLab) createMR(w http.ResponseWriter, r *http.Request) {
	c, v, ok := g.projectFor(w, r, glWrite)
	if !ok {
		return
	}
	p, ok := glParams(r)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "The provided content-type 'application/json' is not supported."})
		return
	}
	if g.missing(w, p, "source_branch", "target_branch", "title") {
		return
	}
	if id := p["target_project_id"]; id != "" && id != strconv.FormatInt(v.ID, 10) {
		g.error(w, http.StatusBadRequest, "Forks are not simulated")
		return
	}
	mr, f := g.sim.createPRAnyDraft(v.FullName(), PR{
		Title: p["title"], Body: p["description"], Source: p["source_branch"], Target: p["target_branch"],
		Draft: glDraft.MatchString(p["title"]), Author: c.login,
	})
	// GitLab answers its branch checks with 409 and a list of messages.
	conflict := func(msg string) { g.error(w, http.StatusConflict, []string{msg}) }
	switch f.kind {
	case failNone:
		writeJSON(w, http.StatusCreated, g.mrJSON(r, v, mr))
	case failHeadMissing:
		conflict(fmt.Sprintf("Source branch \"%s\" does not exist", p["source_branch"]))
	case failBaseMissing:
		conflict(fmt.Sprintf("Target branch \"%s\" does not exist", p["target_branch"]))
	case failSameBranch:
		conflict("You can't use same project/branch for source and target")
	case failPRExists:
		conflict(fmt.Sprintf("Another open merge request already exists for this source branch: !%d", f.pr.Number))
	default:
		g.error(w, http.StatusBadRequest, map[string][]string{f.field: {"can't be blank"}})
	}
}

func (g *gitLab) getMR(w http.ResponseWriter, r *http.Request) {
	_, v, ok := g.projectFor(w, r, glRead)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("iid"))
	p, found := g.sim.pull(v.FullName(), n)
	if err != nil || !found {
		g.error(w, http.StatusNotFound, "404 Not found")
		return
	}
	writeJSON(w, http.StatusOK, g.mrJSON(r, v, p))
}

// tokenPage stands in for the token-creation page NewTokenURL links to.
func (g *gitLab) tokenPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Personal access tokens (simulated GitLab)</title>"+
		"<h1>Add a personal access token (simulated GitLab)</h1>"+
		"<p>Token name: <code>%s</code>; scopes: <code>%s</code>.</p>"+
		"<p>This host is gitrelay's simulator; it issues no tokens from this page.</p>",
		html.EscapeString(q.Get("name")), html.EscapeString(q.Get("scopes")))
}

// glHookEvents are the event switches of a project hook the simulator
// keeps, as Hook.Events names them.
var glHookEvents = []string{"push_events", "tag_push_events", "merge_requests_events"}

// hookProject is projectFor for the webhook endpoints, which need the
// Maintainer role (the simulator's repository admins and owner): GitLab
// answers 403 to anyone else.
func (g *gitLab) hookProject(w http.ResponseWriter, r *http.Request, n glNeed) (repoView, bool) {
	c, v, ok := g.projectFor(w, r, n)
	if !ok {
		return v, false
	}
	if c.login == "" || !v.Admin {
		g.error(w, http.StatusForbidden, "403 Forbidden")
		return v, false
	}
	return v, true
}

func (g *gitLab) hookJSON(v repoView, h Hook) map[string]any {
	out := map[string]any{
		"id": h.ID, "url": h.URL, "name": "", "description": "", "project_id": v.ID,
		"push_events_branch_filter": "", "issues_events": false, "confidential_issues_events": false,
		"note_events": false, "confidential_note_events": false, "job_events": false, "pipeline_events": false,
		"wiki_page_events": false, "deployment_events": false, "releases_events": false,
		"enable_ssl_verification": true, "repository_update_events": false, "alert_status": "executable",
		"disabled_until": nil, "url_variables": []any{}, "created_at": glCreatedAt,
	}
	if h.Inactive {
		out["alert_status"] = "disabled"
	}
	for _, e := range glHookEvents {
		out[e] = slices.Contains(h.Events, e)
	}
	return out
}

func (g *gitLab) listHooks(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookProject(w, r, glRead)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, h := range g.sim.Hooks(v.FullName()) {
		out = append(out, g.hookJSON(v, h))
	}
	writeJSON(w, http.StatusOK, out)
}

// glHookBody is a project hook as GitLab takes it; an absent switch keeps
// its value (on creation: push events on, the others off).
type glHookBody struct {
	URL   string          `json:"url"`
	Token *string         `json:"token"`
	Flags map[string]bool `json:"-"`
}

func (b *glHookBody) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	b.Flags = map[string]bool{}
	for k, raw := range fields {
		switch {
		case k == "url":
			if err := json.Unmarshal(raw, &b.URL); err != nil {
				return err
			}
		case k == "token":
			var t string
			if err := json.Unmarshal(raw, &t); err != nil {
				return err
			}
			b.Token = &t
		case slices.Contains(glHookEvents, k):
			var on bool
			if err := json.Unmarshal(raw, &on); err != nil {
				return err
			}
			b.Flags[k] = on
		}
	}
	return nil
}

// apply sets the hook's URL, token and events from the body.
func (b glHookBody) apply(h *Hook) {
	h.URL = b.URL
	if b.Token != nil {
		h.Secret = *b.Token
	}
	var events []string
	for _, e := range glHookEvents {
		on, given := b.Flags[e]
		if (given && on) || (!given && slices.Contains(h.Events, e)) {
			events = append(events, e)
		}
	}
	h.Events = events
}

func (g *gitLab) readHook(w http.ResponseWriter, r *http.Request) (glHookBody, bool) {
	var body glHookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "400 Bad request - the body is not JSON"})
		return body, false
	}
	if strings.TrimSpace(body.URL) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "url is missing"})
		return body, false
	}
	return body, true
}

func (g *gitLab) createHook(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookProject(w, r, glWrite)
	if !ok {
		return
	}
	body, ok := g.readHook(w, r)
	if !ok {
		return
	}
	h := Hook{Format: HookGitLab, Events: []string{"push_events"}}
	body.apply(&h)
	writeJSON(w, http.StatusCreated, g.hookJSON(v, g.sim.createHook(v.FullName(), h)))
}

func (g *gitLab) updateHook(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookProject(w, r, glWrite)
	if !ok {
		return
	}
	body, ok := g.readHook(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("hook_id"), 10, 64)
	h, found := g.sim.updateHook(v.FullName(), id, body.apply)
	if !found {
		g.error(w, http.StatusNotFound, "404 Not found")
		return
	}
	writeJSON(w, http.StatusOK, g.hookJSON(v, h))
}

// testHook sends the hook a test delivery of a push to the default
// branch; GitLab turns a hook it disabled after failed deliveries back on
// when the test is answered 2xx.
func (g *gitLab) testHook(w http.ResponseWriter, r *http.Request) {
	v, ok := g.hookProject(w, r, glWrite)
	if !ok {
		return
	}
	if r.PathValue("trigger") != "push_events" {
		g.error(w, http.StatusBadRequest, "trigger does not have a valid value")
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("hook_id"), 10, 64)
	status, found := g.sim.testHook(v.FullName(), id)
	switch {
	case !found:
		g.error(w, http.StatusNotFound, "404 Not found")
	case status < 200 || status > 299:
		g.error(w, http.StatusUnprocessableEntity, fmt.Sprintf("Hook execution failed: %d", status))
	default:
		g.error(w, http.StatusCreated, "201 Created")
	}
}
