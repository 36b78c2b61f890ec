package hostsim

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Azure serves the Azure DevOps REST API as Azure DevOps Services, Team
// Foundation Server and Azure DevOps Server do, below any organization or
// collection root: /_apis/connectionData, /_apis/git/repositories,
// [/{project}]/_apis/git/repositories/{id}[/refs|/pullrequests], the
// permission check /_apis/permissions/{namespace}/{bits}, and the token
// pages /_usersSettings/tokens and /_details/security/tokens.
//
// Repositories appear as projects named after their owner ("acme") holding
// repositories named after the repository ("widgets"), with GUIDs derived
// from the simulator's ids. A token with nil Scopes may do everything;
// otherwise reads need a vso.code scope and writes vso.code_write (or
// vso.code_manage, vso.code_full), and Azure DevOps answers 401 for a
// missing scope as for a dead token. Authentication is Basic with the token
// (or, for TFS 2013/2015, the password) as the password; without the
// X-TFS-FedAuthRedirect: Suppress header a refused credential gets a 203
// sign-in page instead of 401. The api-version query parameter is required
// on API calls, and isDraft is honoured from 5.0 (Azure DevOps Server 2019).
func (s *Sim) Azure() http.Handler { return s.handler(newAzure(s)) }

// The Git repositories security namespace, whose permission bits the
// permission check evaluates (4 is Contribute, 16 Create branch).
const azGitNamespace = "2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87"

const azZeroID = "0000000000000000000000000000000000000000"

type azure struct{ sim *Sim }

func newAzure(s *Sim) *azure { return &azure{sim: s} }

// azPath is a request path split around "/_apis".
type azPath struct {
	prefix string   // everything before /_apis: the root, maybe a project
	parts  []string // what follows /_apis, split at "/"
	page   string   // a web page: "tokens"
}

func splitAzure(p string) azPath {
	lower := strings.ToLower(p)
	if i := strings.Index(lower, "/_apis/"); i >= 0 {
		return azPath{prefix: p[:i], parts: strings.Split(strings.Trim(p[i+len("/_apis/"):], "/"), "/")}
	}
	for _, page := range []string{"/_userssettings/tokens", "/_details/security/tokens"} {
		if strings.HasSuffix(lower, page) {
			return azPath{prefix: p[:len(p)-len(page)], page: "tokens"}
		}
	}
	return azPath{prefix: p}
}

// match reports whether the parts are pattern (case-insensitive, "*" for
// any one segment).
func (p azPath) match(pattern ...string) bool {
	if len(p.parts) != len(pattern) {
		return false
	}
	for i, want := range pattern {
		if want != "*" && !strings.EqualFold(p.parts[i], want) {
			return false
		}
	}
	return true
}

func (a *azure) route(r *http.Request) (Op, bool) {
	p := splitAzure(r.URL.Path)
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case p.page != "" && get:
		return OpWeb, true
	case p.match("connectionData") && get:
		return OpIdentity, true
	case p.match("git", "repositories") && get, p.match("permissions", "*", "*") && get:
		return OpListRepos, true
	case p.match("git", "repositories", "*") && get:
		return OpGetRepo, true
	case p.match("git", "repositories", "*", "refs") && get:
		if f := r.URL.Query().Get("filter"); f == "" || strings.EqualFold(f, "heads/") {
			return OpListBranches, true
		}
		return OpGetBranch, true
	case p.match("git", "repositories", "*", "refs") && post:
		if updates := peekRefUpdates(r); len(updates) > 0 && updates[0].NewObjectID == azZeroID {
			return OpDeleteBranch, true
		}
		return OpCreateBranch, true
	case p.match("git", "repositories", "*", "pullrequests") && get:
		return OpListPullRequests, true
	case p.match("git", "repositories", "*", "pullrequests") && post:
		return OpCreatePullRequest, true
	case p.match("git", "repositories", "*", "pullrequests", "*") && get:
		return OpGetPullRequest, true
	case p.match("hooks", "subscriptions") && get:
		return OpListHooks, true
	case p.match("hooks", "subscriptions") && post:
		return OpCreateHook, true
	case p.match("hooks", "subscriptions", "*") && r.Method == http.MethodPut:
		return OpUpdateHook, true
	}
	return "", false
}

type azRefUpdate struct {
	Name        string `json:"name"`
	OldObjectID string `json:"oldObjectId"`
	NewObjectID string `json:"newObjectId"`
}

// peekRefUpdates reads a ref update body and puts it back for the handler.
func peekRefUpdates(r *http.Request) []azRefUpdate {
	if r.Body == nil {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	var u []azRefUpdate
	_ = json.Unmarshal(body, &u)
	return u
}

// credentials reads Basic authentication: the password is the token (the
// user name is ignored for PATs, as Azure DevOps does).
func (a *azure) credentials(r *http.Request) (user, secret string) {
	scheme, value, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "basic") {
		return "", ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", ""
	}
	user, secret, _ = strings.Cut(string(raw), ":")
	return user, secret
}

func (a *azure) token(r *http.Request) string {
	_, secret := a.credentials(r)
	return secret
}

func (a *azure) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := a.route(r)
	if !ok {
		a.error(w, http.StatusNotFound, "The controller for path '"+r.URL.Path+"' was not found or does not implement IController.", "HttpException", 0)
		return
	}
	if op == OpWeb {
		a.tokenPage(w)
		return
	}
	c, ok := a.begin(w, r)
	if !ok {
		return
	}
	p := splitAzure(r.URL.Path)
	if op == OpIdentity {
		a.connectionData(w, r, c)
		return
	}
	major, ok := a.version(w, r)
	if !ok {
		return
	}
	if !a.scoped(w, c.tok, op) {
		return
	}
	switch op {
	case OpListHooks:
		a.listSubscriptions(w, r, c)
		return
	case OpCreateHook, OpUpdateHook:
		a.putSubscription(w, r, c, p)
		return
	case OpListRepos:
		if strings.EqualFold(p.parts[0], "permissions") {
			a.permissions(w, r, c, p)
			return
		}
		a.listRepos(w, r, c, p, major)
		return
	}
	v, root, ok := a.repoFor(w, r, c, p)
	if !ok {
		return
	}
	switch op {
	case OpGetRepo:
		writeJSON(w, http.StatusOK, a.repoJSON(root, v, major))
	case OpListBranches, OpGetBranch:
		a.listRefs(w, r, root, v)
	case OpCreateBranch, OpDeleteBranch:
		a.updateRefs(w, r, v)
	case OpListPullRequests:
		a.listPulls(w, r, root, v, major)
	case OpCreatePullRequest:
		a.createPull(w, r, c, root, v, major)
	case OpGetPullRequest:
		n, err := strconv.Atoi(p.parts[4])
		pr, found := a.sim.pull(v.FullName(), n)
		if err != nil || !found {
			a.error(w, http.StatusNotFound, "TF401180: The requested pull request was not found.", "GitPullRequestNotFoundException", 0)
			return
		}
		writeJSON(w, http.StatusOK, a.prJSON(root, v, pr, major))
	}
}

func (a *azure) describe(r *http.Request, body []byte) (repo, ref string) {
	p := splitAzure(r.URL.Path)
	if len(p.parts) >= 2 && strings.EqualFold(p.parts[0], "hooks") {
		var sub azSubscription
		_ = json.Unmarshal(body, &sub)
		if v, found := a.sim.azRepo(sub.PublisherInputs["repository"], ""); found {
			repo = v.FullName()
		}
		return repo, ""
	}
	if len(p.parts) < 3 || !strings.EqualFold(p.parts[1], "repositories") {
		return "", ""
	}
	if v, found := a.sim.azRepo(p.parts[2], ""); found {
		repo = v.FullName()
	}
	var updates []azRefUpdate
	var pr struct {
		SourceRefName string `json:"sourceRefName"`
	}
	switch {
	case json.Unmarshal(body, &updates) == nil && len(updates) > 0:
		ref = strings.TrimPrefix(updates[0].Name, "refs/heads/")
	case json.Unmarshal(body, &pr) == nil:
		ref = strings.TrimPrefix(pr.SourceRefName, "refs/heads/")
	}
	return repo, ref
}

// error writes Azure DevOps' error body.
func (a *azure) error(w http.ResponseWriter, status int, msg, typeKey string, code int) {
	writeJSON(w, status, map[string]any{
		"$id":            "1",
		"innerException": nil,
		"message":        msg,
		"typeName":       "Microsoft.TeamFoundation.Framework.Server." + typeKey + ", Microsoft.TeamFoundation.Framework.Server",
		"typeKey":        typeKey,
		"errorCode":      code,
		"eventId":        3000,
	})
}

const azUnauthorized = "TF400813: The user '' is not authorized to access this resource."

func (a *azure) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	status := f.Status
	if f.RetryAfter > 0 {
		if status == 0 {
			status = http.StatusTooManyRequests
		}
		secs := int64(math.Ceil(f.RetryAfter.Seconds()))
		h := w.Header()
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("X-RateLimit-Resource", "Core")
		h.Set("X-RateLimit-Delay", strconv.FormatInt(secs, 10))
		h.Set("X-RateLimit-Limit", "200")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(a.sim.now().Add(time.Duration(secs)*time.Second).Unix(), 10))
		msg := f.Message
		if msg == "" {
			msg = "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'Core' in namespace 'User'."
		}
		a.error(w, status, msg, "RequestBlockedException", 0)
		return
	}
	msg, key := f.Message, "VssServiceException"
	switch status {
	case http.StatusUnauthorized:
		msg, key = azOrText(msg, azUnauthorized), "UnauthorizedRequestException"
	case http.StatusNotFound:
		msg = azOrText(msg, "TF401019: The Git repository with name or identifier does not exist or you do not have permissions for the operation you are attempting.")
		key = "GitRepositoryNotFoundException"
	case http.StatusServiceUnavailable:
		msg = azOrText(msg, "TF400898: An Internal Error Occurred. Activity Id: 00000000-0000-0000-0000-000000000000.")
	default:
		msg = azOrText(msg, http.StatusText(status))
	}
	a.error(w, status, msg, key, 0)
}

func azOrText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// begin authenticates the request; ok is false when it answered.
func (a *azure) begin(w http.ResponseWriter, r *http.Request) (caller, bool) {
	tok, st := a.sim.authenticate(a.token(r))
	w.Header().Set("ActivityId", "00000000-0000-0000-0000-000000000000")
	w.Header().Set("X-TFS-ProcessId", "00000000-0000-0000-0000-000000000000")
	if st == authOK {
		return caller{tok: tok, login: tok.Login}, true
	}
	if r.Header.Get("X-TFS-FedAuthRedirect") != "Suppress" {
		// What a browser-minded server does with a refused credential.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNonAuthoritativeInfo)
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><form>Sign in</form></body></html>")
		return caller{}, false
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="https://`+r.Host+`/"`)
	a.error(w, http.StatusUnauthorized, azUnauthorized, "UnauthorizedRequestException", 0)
	return caller{}, false
}

// version reads api-version; ok is false when it answered 400.
func (a *azure) version(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("api-version")
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if v == "" || err != nil {
		a.error(w, http.StatusBadRequest, fmt.Sprintf("No api-version was supplied for the %q request. The version must be supplied either as part of the Accept header (e.g. \"application/json; api-version=1.0\") or as a query parameter (e.g. '?api-version=1.0').", r.Method),
			"VssVersionNotSpecifiedException", 0)
		return 0, false
	}
	return major, true
}

// scoped answers 401, as Azure DevOps does, when a scoped token lacks the
// Code scope an operation needs.
func (a *azure) scoped(w http.ResponseWriter, tok Token, op Op) bool {
	if tok.Scopes == nil {
		return true
	}
	if op == OpListHooks || op == OpCreateHook || op == OpUpdateHook {
		if slices.Contains(tok.Scopes, "vso.hooks_write") || (op == OpListHooks && slices.Contains(tok.Scopes, "vso.hooks")) {
			return true
		}
		a.error(w, http.StatusUnauthorized, azUnauthorized, "UnauthorizedRequestException", 0)
		return false
	}
	write := op == OpCreateBranch || op == OpDeleteBranch || op == OpCreatePullRequest
	for _, s := range tok.Scopes {
		switch s {
		case "vso.code_write", "vso.code_manage", "vso.code_full":
			return true
		case "vso.code":
			if !write {
				return true
			}
		}
	}
	a.error(w, http.StatusUnauthorized, azUnauthorized, "UnauthorizedRequestException", 0)
	return false
}

// azGUID formats 16 bytes of a hash as a GUID; when id > 0 its last group
// carries id, so that the GUID can be traced back.
func azGUID(seed string, id int64) string {
	sum := sha1.Sum([]byte(seed))
	h := hex.EncodeToString(sum[:])
	last := h[20:32]
	if id > 0 {
		last = fmt.Sprintf("%012x", id)
	}
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + last
}

func azRepoGUID(id int64) string        { return azGUID(fmt.Sprintf("repository:%d", id), id) }
func azProjectGUID(owner string) string { return azGUID("project:"+strings.ToLower(owner), 0) }
func azUserGUID(login string) string    { return azGUID("user:"+strings.ToLower(login), 0) }

// azRepo finds a repository by its GUID, as login sees it.
func (s *Sim) azRepo(guid, login string) (repoView, bool) {
	guid = strings.ToLower(guid)
	if len(guid) != 36 {
		return repoView{}, false
	}
	id, err := strconv.ParseInt(guid[24:], 16, 64)
	if err != nil {
		return repoView{}, false
	}
	v, found := s.repoByID(id, login)
	if !found || azRepoGUID(v.ID) != guid {
		return repoView{}, false
	}
	return v, true
}

// root is the organization or collection URL of a request: its prefix,
// without a project segment naming project.
func (a *azure) root(r *http.Request, p azPath, project string) string {
	prefix := p.prefix
	if i := strings.LastIndex(prefix, "/"); i >= 0 && project != "" {
		last, err := url.PathUnescape(prefix[i+1:])
		if err == nil && (strings.EqualFold(last, project) || strings.EqualFold(last, azProjectGUID(project))) {
			prefix = prefix[:i]
		}
	}
	return scheme(r) + "://" + r.Host + prefix
}

// repoFor finds the repository of a repository-scoped path; ok is false
// when it answered.
func (a *azure) repoFor(w http.ResponseWriter, r *http.Request, c caller, p azPath) (repoView, string, bool) {
	v, found := a.sim.azRepo(p.parts[2], c.login)
	if !found || !v.Visible {
		a.error(w, http.StatusNotFound, fmt.Sprintf("TF401019: The Git repository with name or identifier %s does not exist or you do not have permissions for the operation you are attempting.", p.parts[2]),
			"GitRepositoryNotFoundException", 0)
		return repoView{}, "", false
	}
	return v, a.root(r, p, v.Owner), true
}

func (a *azure) identityRef(root, login string) map[string]any {
	acc := a.sim.account(login)
	id := azUserGUID(login)
	return map[string]any{
		"id":          id,
		"displayName": acc.Name,
		"uniqueName":  acc.Login,
		"url":         root + "/_apis/Identities/" + id,
		"imageUrl":    root + "/_api/_common/identityImage?id=" + id,
	}
}

func (a *azure) connectionData(w http.ResponseWriter, r *http.Request, c caller) {
	acc := a.sim.account(c.login)
	id := azUserGUID(c.login)
	user := map[string]any{
		"id":                  id,
		"descriptor":          "Microsoft.IdentityModel.Claims.ClaimsIdentity;" + id + "\\" + acc.Login,
		"subjectDescriptor":   "aad." + base64.RawURLEncoding.EncodeToString([]byte(id)),
		"providerDisplayName": acc.Name,
		"isActive":            true,
		"properties": map[string]any{
			"Account": map[string]string{"$type": "System.String", "$value": acc.Login},
		},
		"resourceVersion": 2,
		"metaTypeId":      0,
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"authenticatedUser": user,
		"authorizedUser":    user,
		"instanceId":        azGUID("instance:"+r.Host, 0),
		"deploymentId":      azGUID("deployment:"+r.Host, 0),
		"deploymentType":    "hosted",
		"locationServiceData": map[string]any{
			"serviceOwner":                azGUID("owner", 0),
			"defaultAccessMappingMoniker": "PublicAccessMapping",
			"lastChangeId":                1,
			"lastChangeId64":              1,
		},
	})
}

func (a *azure) repoJSON(root string, v repoView, major int) map[string]any {
	guid, project := azRepoGUID(v.ID), azProjectGUID(v.Owner)
	web := root + "/" + url.PathEscape(v.Owner) + "/_git/" + url.PathEscape(v.Name)
	visibility := "public"
	if v.Private {
		visibility = "private"
	}
	remote := web
	if u, err := url.Parse(web); err == nil && major >= 5 {
		// Azure DevOps Services names the organization as the user of
		// the clone URL.
		org := strings.Trim(strings.SplitN(strings.Trim(u.Path, "/"), "/", 2)[0], "/")
		if org != "" {
			u.User = url.User(org)
			remote = u.String()
		}
	}
	out := map[string]any{
		"id":   guid,
		"name": v.Name,
		"url":  root + "/_apis/git/repositories/" + guid,
		"project": map[string]any{
			"id": project, "name": v.Owner, "url": root + "/_apis/projects/" + project,
			"state": "wellFormed", "revision": 11, "visibility": visibility,
		},
		"defaultBranch": "refs/heads/" + v.DefaultBranch,
		"size":          0,
		"remoteUrl":     remote,
		"sshUrl":        "git@ssh." + strings.TrimPrefix(strings.TrimPrefix(root, "https://"), "http://") + "/" + v.Owner + "/" + v.Name,
	}
	if major >= 5 {
		out["webUrl"] = web
		out["isDisabled"] = false
		out["_links"] = map[string]any{"web": map[string]string{"href": web}}
	}
	return out
}

func (a *azure) listRepos(w http.ResponseWriter, r *http.Request, c caller, p azPath, major int) {
	root := a.root(r, p, "")
	out := []map[string]any{}
	for _, v := range a.sim.memberRepos(c.login) {
		out = append(out, a.repoJSON(root, v, major))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out, "count": len(out)})
}

// permissions evaluates Git repository permission bits for tokens
// repoV2/{project}/{repository}: read (1) needs sight of the repository,
// every other bit push access.
func (a *azure) permissions(w http.ResponseWriter, r *http.Request, c caller, p azPath) {
	bits, err := strconv.Atoi(p.parts[2])
	if !strings.EqualFold(p.parts[1], azGitNamespace) || err != nil || bits <= 0 {
		a.error(w, http.StatusNotFound, "The security namespace "+p.parts[1]+" was not found.", "InvalidSecurityNamespaceException", 0)
		return
	}
	q := r.URL.Query()
	delim := q.Get("delimiter")
	if delim == "" {
		delim = ","
	}
	var out []bool
	for _, token := range strings.Split(q.Get("tokens"), delim) {
		parts := strings.Split(token, "/")
		allowed := false
		if len(parts) == 3 && strings.EqualFold(parts[0], "repoV2") {
			if v, found := a.sim.azRepo(parts[2], c.login); found && strings.EqualFold(parts[1], azProjectGUID(v.Owner)) {
				allowed = v.Visible && (bits == 1 || v.Push)
			}
		}
		out = append(out, allowed)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

func (a *azure) refJSON(root string, v repoView, name, sha string) map[string]any {
	return map[string]any{
		"name":     "refs/heads/" + name,
		"objectId": sha,
		"creator":  a.identityRef(root, v.Owner),
		"url":      root + "/" + url.PathEscape(v.Owner) + "/_apis/git/repositories/" + azRepoGUID(v.ID) + "/refs?filter=" + url.QueryEscape("heads/"+name),
	}
}

// listRefs lists branches whose ref name starts with refs/{filter}, $top
// at a time with an opaque continuation token.
func (a *azure) listRefs(w http.ResponseWriter, r *http.Request, root string, v repoView) {
	q := r.URL.Query()
	filter := strings.TrimPrefix(q.Get("filter"), "refs/")
	var matched []branch
	for _, b := range a.sim.branchList(v.FullName()) {
		if strings.HasPrefix("heads/"+b.Name, filter) {
			matched = append(matched, b)
		}
	}
	start := 0
	if ct := q.Get("continuationToken"); ct != "" {
		raw, err := base64.RawURLEncoding.DecodeString(ct)
		n, cerr := strconv.Atoi(string(raw))
		if err != nil || cerr != nil || n < 0 || n > len(matched) {
			a.error(w, http.StatusBadRequest, "The continuation token is not valid.", "InvalidArgumentValueException", 0)
			return
		}
		start = n
	}
	end := len(matched)
	if top := atoi(q.Get("$top"), 0); top > 0 && start+top < end {
		end = start + top
		w.Header().Set("X-MS-ContinuationToken", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
	}
	out := []map[string]any{}
	for _, b := range matched[start:end] {
		out = append(out, a.refJSON(root, v, b.Name, b.SHA))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out, "count": len(out)})
}

// updateRefs applies ref updates. Like Azure DevOps it answers 200 with a
// per-ref updateStatus, also for refusals.
func (a *azure) updateRefs(w http.ResponseWriter, r *http.Request, v repoView) {
	var updates []azRefUpdate
	if err := json.NewDecoder(r.Body).Decode(&updates); err != nil || len(updates) == 0 {
		a.error(w, http.StatusBadRequest, "The body of the request contains invalid Json.", "InvalidArgumentValueException", 0)
		return
	}
	guid := azRepoGUID(v.ID)
	out := []map[string]any{}
	for _, u := range updates {
		status, msg := a.updateRef(v, u)
		res := map[string]any{
			"repositoryId": guid, "name": u.Name, "oldObjectId": u.OldObjectID, "newObjectId": u.NewObjectID,
			"isLocked": false, "updateStatus": status,
			"success": status == "succeeded" || status == "succeededNonExistentRef",
		}
		if msg != "" {
			res["customMessage"] = msg
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out, "count": len(out)})
}

func (a *azure) updateRef(v repoView, u azRefUpdate) (status, msg string) {
	name, isBranch := strings.CutPrefix(u.Name, "refs/heads/")
	deleting := u.NewObjectID == azZeroID
	switch {
	case !isBranch:
		return "invalidRefName", ""
	case !v.Push && deleting:
		return "forcePushRequired", "TF401027: You need the Git 'ForcePush' permission to perform this action."
	case !v.Push:
		return "createBranchPermissionRequired", "TF401027: You need the Git 'CreateBranch' permission to perform this action."
	case deleting:
		current, found := a.sim.branchSHA(v.FullName(), name)
		switch {
		case !found:
			return "succeededNonExistentRef", ""
		case !strings.EqualFold(current, u.OldObjectID):
			return "staleOldObjectId", ""
		}
		switch f := a.sim.deleteBranch(v.FullName(), name); f.kind {
		case failNone:
			return "succeeded", ""
		case failRefMissing:
			return "succeededNonExistentRef", ""
		case failDefaultBranch:
			return "rejectedByPolicy", "The default branch cannot be deleted."
		}
		return "failed", ""
	case u.OldObjectID != azZeroID:
		// Moving a branch is not something gitrelay does.
		return "forcePushRequired", "TF401027: You need the Git 'ForcePush' permission to perform this action."
	}
	switch f := a.sim.createBranch(v.FullName(), name, u.NewObjectID); f.kind {
	case failNone:
		return "succeeded", ""
	case failInvalidRef:
		return "invalidRefName", ""
	case failObjectMissing:
		return "unresolvableToCommit", ""
	case failRefExists:
		return "staleOldObjectId", ""
	case failRefConflict:
		return "refNameConflict", ""
	}
	return "failed", ""
}

func (a *azure) prJSON(root string, v repoView, p PR, major int) map[string]any {
	guid := azRepoGUID(v.ID)
	status := "active"
	switch {
	case p.Merged:
		status = "completed"
	case !p.Open:
		status = "abandoned"
	}
	out := map[string]any{
		"repository":    a.repoJSON(root, v, major),
		"pullRequestId": p.Number,
		"codeReviewId":  p.Number,
		"status":        status,
		"createdBy":     a.identityRef(root, p.Author),
		"creationDate":  azTime(p.CreatedAt),
		"title":         p.Title,
		"description":   p.Body,
		"sourceRefName": "refs/heads/" + p.Source,
		"targetRefName": "refs/heads/" + p.Target,
		"mergeStatus":   "queued",
		"mergeId":       azGUID(fmt.Sprintf("merge:%s:%d", guid, p.Number), 0),
		"lastMergeSourceCommit": map[string]string{
			"commitId": a.sim.branchTip(v.FullName(), p.Source),
		},
		"lastMergeTargetCommit": map[string]string{
			"commitId": a.sim.branchTip(v.FullName(), p.Target),
		},
		"reviewers":          []any{},
		"url":                fmt.Sprintf("%s/_apis/git/repositories/%s/pullRequests/%d", root, guid, p.Number),
		"supportsIterations": true,
	}
	if major >= 5 {
		out["isDraft"] = p.Draft
	}
	if !p.Open {
		out["closedDate"] = azTime(p.UpdatedAt)
	}
	return out
}

func (a *azure) listPulls(w http.ResponseWriter, r *http.Request, root string, v repoView, major int) {
	q := r.URL.Query()
	state := "open"
	switch strings.ToLower(q.Get("searchCriteria.status")) {
	case "all":
		state = "all"
	case "abandoned", "completed":
		state = "closed"
	}
	source := strings.TrimPrefix(q.Get("searchCriteria.sourceRefName"), "refs/heads/")
	target := strings.TrimPrefix(q.Get("searchCriteria.targetRefName"), "refs/heads/")
	out := []map[string]any{}
	list := a.sim.pulls(v.FullName(), state, source, target)
	slices.Reverse(list) // newest first, as Azure DevOps lists them
	for _, p := range list {
		out = append(out, a.prJSON(root, v, p, major))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out, "count": len(out)})
}

func (a *azure) createPull(w http.ResponseWriter, r *http.Request, c caller, root string, v repoView, major int) {
	if !v.Push {
		a.error(w, http.StatusForbidden, "TF401027: You need the Git 'PullRequestContribute' permission to perform this action.", "GitNeedsPermissionException", 0)
		return
	}
	var body struct {
		SourceRefName string `json:"sourceRefName"`
		TargetRefName string `json:"targetRefName"`
		Title         string `json:"title"`
		Description   string `json:"description"`
		IsDraft       bool   `json:"isDraft"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		a.error(w, http.StatusBadRequest, "The body of the request contains invalid Json.", "InvalidArgumentValueException", 0)
		return
	}
	cannot := func() {
		a.error(w, http.StatusBadRequest, "TF401398: The pull request cannot be activated because the source and/or the target branch no longer exists, or the requested refs are not branches",
			"GitPullRequestCannotBeActivated", 0)
	}
	source, okS := strings.CutPrefix(body.SourceRefName, "refs/heads/")
	target, okT := strings.CutPrefix(body.TargetRefName, "refs/heads/")
	if !okS || !okT {
		cannot()
		return
	}
	// Servers before 2019 (api 5.0) know no drafts and ignore the field.
	draft := body.IsDraft && major >= 5
	p, f := a.sim.createPR(v.FullName(), PR{
		Title: body.Title, Body: body.Description, Source: source, Target: target, Draft: draft, Author: c.login,
	})
	switch f.kind {
	case failNone:
		writeJSON(w, http.StatusCreated, a.prJSON(root, v, p, major))
	case failHeadMissing, failBaseMissing:
		cannot()
	case failPRExists:
		a.error(w, http.StatusConflict, "TF401179: An active pull request for the source and target branch already exists.", "GitPullRequestExistsException", 0)
	case failDraftUnsupported:
		a.error(w, http.StatusBadRequest, "Draft pull requests are not enabled for this repository.", "InvalidArgumentValueException", 0)
	case failSameBranch:
		a.error(w, http.StatusBadRequest, "TF401402: The source and target branches of a pull request cannot be the same.", "InvalidArgumentValueException", 0)
	default:
		a.error(w, http.StatusBadRequest, "Value cannot be null.\r\nParameter name: "+f.field, "ArgumentNullException", 0)
	}
}

// tokenPage stands in for the personal access tokens page.
func (a *azure) tokenPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Personal Access Tokens (simulated)</title><h1>%s</h1>"+
		"<p>This host is gitrelay's simulator; it issues no tokens from this page.</p>", html.EscapeString("Personal Access Tokens"))
}

// A webhook on Azure DevOps is a service hook subscription of the
// collection: publisher tfs, consumer webHooks (action httpRequest),
// filtered by its publisher inputs to a project's repository. The
// simulator keeps each as a Hook of its repository, with the one event
// type as Events. Managing subscriptions needs the Service Hooks scope
// (vso.hooks to list, vso.hooks_write to change) and, in the simulator,
// admin rights on the repository (Azure DevOps' Edit subscriptions
// permission, which Project Administrators have).

// azHookEvents are the event types the simulator delivers.
var azHookEvents = []string{"git.push", "git.pullrequest.created", "git.pullrequest.updated", "git.pullrequest.merged"}

type azSubscription struct {
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	PublisherID      string            `json:"publisherId"`
	EventType        string            `json:"eventType"`
	ResourceVersion  string            `json:"resourceVersion"`
	ConsumerID       string            `json:"consumerId"`
	ConsumerActionID string            `json:"consumerActionId"`
	PublisherInputs  map[string]string `json:"publisherInputs"`
	ConsumerInputs   map[string]string `json:"consumerInputs"`
}

func azSubscriptionGUID(id int64) string { return azGUID(fmt.Sprintf("subscription:%d", id), id) }

func (a *azure) subscriptionJSON(r *http.Request, v repoView, h Hook) map[string]any {
	root := scheme(r) + "://" + r.Host + splitAzure(r.URL.Path).prefix
	id := azSubscriptionGUID(h.ID)
	status := "enabled"
	if h.Inactive {
		status = "disabledBySystem"
	}
	event := ""
	if len(h.Events) > 0 {
		event = h.Events[0]
	}
	consumer := map[string]string{"url": h.URL}
	if h.User != "" {
		consumer["basicAuthUsername"] = h.User
	}
	if h.Secret != "" {
		consumer["basicAuthPassword"] = "********"
	}
	bot := a.identityRef(root, v.Owner)
	return map[string]any{
		"id": id, "url": root + "/_apis/hooks/subscriptions/" + id, "status": status,
		"publisherId": "tfs", "eventType": event, "subscriber": nil, "resourceVersion": "1.0",
		"eventDescription": "Repository " + v.Name, "consumerId": "webHooks", "consumerActionId": "httpRequest",
		"actionDescription": "To host " + hostOf(h.URL),
		"createdBy":         bot, "createdDate": azTime(time.Time{}), "modifiedBy": bot, "modifiedDate": azTime(time.Time{}),
		"publisherInputs": map[string]string{"branch": "", "projectId": azProjectGUID(v.Owner), "repository": azRepoGUID(v.ID),
			"tfsSubscriptionId": azGUID("tfs-"+id, 0)},
		"consumerInputs": consumer,
	}
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// listSubscriptions lists the webhook subscriptions of the repositories
// the caller administers, filtered by the query's publisher, consumer and
// event type.
func (a *azure) listSubscriptions(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, rh := range a.sim.hooksOf(HookAzure, c.login) {
		if !rh.repo.Admin {
			continue
		}
		if (q.Get("publisherId") != "" && q.Get("publisherId") != "tfs") ||
			(q.Get("consumerId") != "" && q.Get("consumerId") != "webHooks") ||
			(q.Get("consumerActionId") != "" && q.Get("consumerActionId") != "httpRequest") ||
			(q.Get("eventType") != "" && !slices.Contains(rh.hook.Events, q.Get("eventType"))) {
			continue
		}
		out = append(out, a.subscriptionJSON(r, rh.repo, rh.hook))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

// putSubscription creates (POST) or replaces (PUT .../{id}) a webhook
// subscription.
func (a *azure) putSubscription(w http.ResponseWriter, r *http.Request, c caller, p azPath) {
	var sub azSubscription
	if err := json.NewDecoder(r.Body).Decode(&sub); err != nil {
		a.error(w, http.StatusBadRequest, "The body of the request contains invalid Json.", "InvalidArgumentValueException", 0)
		return
	}
	invalid := func(msg string) {
		a.error(w, http.StatusBadRequest, msg, "SubscriptionInputException", 0)
	}
	v, found := a.sim.azRepo(sub.PublisherInputs["repository"], c.login)
	switch {
	case sub.PublisherID != "tfs" || sub.ConsumerID != "webHooks" || sub.ConsumerActionID != "httpRequest":
		invalid("The simulator subscribes only web hooks (webHooks, httpRequest) to events of the tfs publisher.")
		return
	case !slices.Contains(azHookEvents, sub.EventType):
		invalid(fmt.Sprintf("The event type '%s' is not supported.", sub.EventType))
		return
	case !found || !v.Visible || !strings.EqualFold(sub.PublisherInputs["projectId"], azProjectGUID(v.Owner)):
		invalid("The value of the publisher input 'repository' is not a repository of the project 'projectId'.")
		return
	case sub.ConsumerInputs["url"] == "":
		invalid("The consumer input 'url' is required.")
		return
	case !v.Admin:
		a.error(w, http.StatusForbidden, fmt.Sprintf("Access Denied: %s needs the following permission(s) on the resource Service Hooks to perform this action: Edit subscriptions", a.sim.account(c.login).Name),
			"AccessCheckException", 0)
		return
	}
	apply := func(h *Hook) {
		h.URL, h.User, h.Events = sub.ConsumerInputs["url"], sub.ConsumerInputs["basicAuthUsername"], []string{sub.EventType}
		if pw := sub.ConsumerInputs["basicAuthPassword"]; pw != "********" {
			h.Secret = pw
		}
		h.Inactive = sub.Status != "" && sub.Status != "enabled"
	}
	if r.Method == http.MethodPost {
		h := Hook{Format: HookAzure}
		apply(&h)
		writeJSON(w, http.StatusOK, a.subscriptionJSON(r, v, a.sim.createHook(v.FullName(), h)))
		return
	}
	guid := strings.ToLower(p.parts[2])
	id, err := strconv.ParseInt(guid[max(len(guid)-12, 0):], 16, 64)
	h, updated := Hook{}, false
	if err == nil && azSubscriptionGUID(id) == guid {
		h, updated = a.sim.updateHook(v.FullName(), id, apply)
	}
	if !updated {
		a.error(w, http.StatusNotFound, fmt.Sprintf("Subscription %s was not found.", p.parts[2]), "SubscriptionNotFoundException", 0)
		return
	}
	writeJSON(w, http.StatusOK, a.subscriptionJSON(r, v, h))
}
