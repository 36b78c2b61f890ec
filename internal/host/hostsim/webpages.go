package hostsim

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The web addresses the simulator hands out (a repository's page, a
// branch's tree, a pull request) open as plain HTML pages in a browser,
// as a real host's do, instead of the API's JSON "Not Found": the demo's
// links lead somewhere. The page is found by the repository's full name at
// the start of the path, whatever the front-end's URL shape after it:
//
//	/{owner}/{repo}                      repository
//	/{owner}/{repo}/tree/{branch}        branch (GitHub; GitLab: /-/tree/, Gitea: /src/branch/)
//	/{owner}/{repo}/pull/{n}             pull request (GitLab: /-/merge_requests/, Gitea: /pulls/)
//
// Anything else keeps the front-end's own not-found answer.

// webPage serves the page for r when its path names a repository the
// simulator has, and reports whether it did.
func (s *Sim) webPage(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	path, err := url.PathUnescape(strings.Trim(r.URL.EscapedPath(), "/"))
	if err != nil {
		return false
	}
	s.mu.Lock()
	var repo *repoState
	for name, rs := range s.repos {
		if (strings.EqualFold(path, name) || strings.HasPrefix(strings.ToLower(path), name+"/")) &&
			(repo == nil || len(name) > len(repo.FullName())) {
			repo = rs
		}
	}
	if repo == nil {
		s.mu.Unlock()
		return false
	}
	full := repo.FullName()
	branches := make(map[string]string, len(repo.branches))
	for k, v := range repo.branches {
		branches[k] = v
	}
	var prs []PR
	for _, p := range repo.prs {
		prs = append(prs, *p)
	}
	s.mu.Unlock()

	rest := strings.TrimPrefix(path[len(full):], "/")
	rest = strings.TrimPrefix(rest, "-/")
	switch kind, arg, _ := strings.Cut(rest, "/"); {
	case rest == "":
		htmlPage(w, full, repoBody(full, branches, prs))
	case kind == "tree" || (kind == "src" && strings.HasPrefix(arg, "branch/")):
		name := strings.TrimPrefix(arg, "branch/")
		sha, ok := branches[name]
		if !ok {
			notFoundPage(w, "There is no branch "+name+" in "+full+".")
			return true
		}
		htmlPage(w, full+" at "+name, fmt.Sprintf("<p>Branch <code>%s</code> of <a href=\"%s\">%s</a> is at commit <code>%s</code>.</p>",
			html.EscapeString(name), html.EscapeString("/"+full), html.EscapeString(full), html.EscapeString(sha)))
	case kind == "pull" || kind == "pulls" || kind == "merge_requests":
		n, err := strconv.Atoi(strings.SplitN(arg, "/", 2)[0])
		for _, p := range prs {
			if err == nil && p.Number == n {
				state := "open"
				if !p.Open {
					state = "closed"
				}
				if p.Draft {
					state += ", draft"
				}
				htmlPage(w, fmt.Sprintf("#%d %s", p.Number, p.Title), fmt.Sprintf(
					"<p>Pull request #%d in <a href=\"%s\">%s</a> (%s): <code>%s</code> into <code>%s</code>, by %s.</p><pre>%s</pre>",
					p.Number, html.EscapeString("/"+full), html.EscapeString(full), state, html.EscapeString(p.Source),
					html.EscapeString(p.Target), html.EscapeString(p.Author), html.EscapeString(p.Body)))
				return true
			}
		}
		notFoundPage(w, "There is no such pull request in "+full+".")
	default:
		return false
	}
	return true
}

func repoBody(full string, branches map[string]string, prs []PR) string {
	var b strings.Builder
	names := make([]string, 0, len(branches))
	for n := range branches {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("<h2>Branches</h2><ul>")
	for _, n := range names {
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>", html.EscapeString("/"+full+"/tree/"+n), html.EscapeString(n))
	}
	b.WriteString("</ul><h2>Pull requests</h2><ul>")
	for _, p := range prs {
		fmt.Fprintf(&b, "<li><a href=\"%s\">#%d %s</a> (%s → %s)</li>", html.EscapeString(fmt.Sprintf("/%s/pull/%d", full, p.Number)),
			p.Number, html.EscapeString(p.Title), html.EscapeString(p.Source), html.EscapeString(p.Target))
	}
	b.WriteString("</ul>")
	return b.String()
}

func htmlPage(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><meta charset=\"utf-8\"><title>%s (simulated host)</title><h1>%s</h1>%s"+
		"<p><small>This is gitrelay's simulated git host.</small></p>", html.EscapeString(title), html.EscapeString(title), body)
}

func notFoundPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<!doctype html><meta charset=\"utf-8\"><title>Not found (simulated host)</title><p>%s</p>", html.EscapeString(msg))
}
