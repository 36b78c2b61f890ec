package jira_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/jira"
)

// forgeDir is the Forge app, relative to this package.
const forgeDir = "../../forge"

func readForge(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(forgeDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestForgeManifestMatchesTheRemote(t *testing.T) {
	manifest := readForge(t, "manifest.yml")
	routes := map[string]bool{}
	for _, rt := range jira.NewRemote(jira.Config{}).Routes() {
		routes[rt.Method+" "+rt.Pattern] = true
	}
	t.Run("every trigger endpoint's route is a POST route of the remote", func(t *testing.T) {
		paths := regexp.MustCompile(`(?m)^\s+path:\s*(/\S+)\s*$`).FindAllStringSubmatch(manifest, -1)
		if len(paths) != 2 {
			t.Fatalf("route paths in the manifest: got %v, want the lifecycle and scheduled ones", paths)
		}
		for _, p := range paths {
			if !routes["POST "+p[1]] {
				t.Fatalf("the manifest routes to %s, which the remote does not serve", p[1])
			}
		}
	})
	t.Run("the panel calls only routes the remote serves", func(t *testing.T) {
		js := readForge(t, "src/panel/panel.js")
		for _, want := range []string{"GET /forge/issues/{key}/development", "POST /forge/issues/{key}/branches",
			"DELETE /forge/issues/{key}/branches", "POST /forge/issues/{key}/pull-requests", "GET /forge/integrations/{id}/repositories"} {
			if !routes[want] {
				t.Fatalf("the remote does not serve %s", want)
			}
		}
		calls := panelCalls(js)
		if len(calls) < 10 {
			t.Fatalf("found %d remote calls in panel.js, want the panel's and the admin page's", len(calls))
		}
		for _, c := range calls {
			if !routes[c] {
				t.Fatalf("panel.js calls %s, which the remote does not serve", c)
			}
		}
	})
	t.Run("the Create branch button opens gitrelay's issue page", func(t *testing.T) {
		if !strings.Contains(manifest, "urlTemplate: ${GITRELAY_URL}/issues/{issue.key}?summary={issue.summary}") {
			t.Fatal("createBranch.urlTemplate does not point at /issues/{issue.key}?summary={issue.summary} on gitrelay")
		}
	})
	t.Run("the endpoints get both tokens", func(t *testing.T) {
		for _, want := range []string{"appSystemToken:\n          enabled: true", "appUserToken:\n          enabled: true"} {
			if !strings.Contains(manifest, want) {
				t.Fatalf("manifest.yml lacks %q", want)
			}
		}
	})
	t.Run("the panel's resource is the built bundle", func(t *testing.T) {
		if !regexp.MustCompile(`(?m)^resources:\n  - key: panel\n    path: build/panel$`).MatchString(manifest) {
			t.Fatal("resources: the panel's path is not build/panel, where scripts/build.mjs writes the bundle")
		}
	})
}

// The panel talks to Jira only through Atlassian's @forge/bridge, bundled
// from npm: never through the bridge's private protocol, which Atlassian
// may change under it.
func TestForgePanelUsesAtlassiansBridge(t *testing.T) {
	js := readForge(t, "src/panel/panel.js")
	if !strings.Contains(js, "import { invokeRemote, router, view } from '@forge/bridge';") {
		t.Error("src/panel/panel.js does not import invokeRemote, router and view from @forge/bridge")
	}
	srcs, err := filepath.Glob(filepath.Join(forgeDir, "src", "panel", "*"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("the panel's sources: %v %v", srcs, err)
	}
	for _, f := range srcs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, private := range []string{"__bridge", "callBridge"} {
			if strings.Contains(string(b), private) {
				t.Errorf("%s uses the bridge's private %s", f, private)
			}
		}
	}
	lock := readForge(t, "package-lock.json")
	for _, pkg := range []string{`"node_modules/@forge/bridge": {`, `"node_modules/esbuild": {`} {
		if !strings.Contains(lock, pkg) {
			t.Errorf("package-lock.json does not pin %s", pkg)
		}
	}
}

// jiraCallScopes are the Jira REST calls gitrelay makes with the tokens
// Forge sends it, by the path as the code spells it, each with the granular
// OAuth 2.0 scopes Jira's REST reference lists for it.
var jiraCallScopes = map[string][]string{
	"/rest/api/3/mypermissions":       {"read:permission:jira"},
	"/rest/api/3/permissions/project": {"read:permission:jira", "read:project:jira"},
	"/rest/api/3/issue/": {"read:issue-meta:jira", "read:issue-security-level:jira", "read:issue.vote:jira",
		"read:issue.changelog:jira", "read:avatar:jira", "read:issue:jira", "read:status:jira", "read:user:jira",
		"read:field-configuration:jira"},
	"/rest/api/3/myself":             {"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"},
	"/rest/devinfo/0.10/bulk":        {"write:dev-info:jira"},
	"/rest/devinfo/0.10/repository/": {"delete:dev-info:jira"},
}

// The manifest asks for exactly what gitrelay's Jira calls need: the two
// token scopes Forge Remote needs and each call's granular scopes, nothing
// else, and a new call cannot be added without its scopes.
func TestForgeManifestScopesAreTheNarrowestForTheCallsMade(t *testing.T) {
	called := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(/rest/[^"?]*)`).FindAllStringSubmatch(string(src), -1) {
			called[m[1]] = true
		}
	}
	for path := range called {
		if _, ok := jiraCallScopes[path]; !ok {
			t.Errorf("gitrelay calls Jira's %s, which jiraCallScopes does not list: add it with its scopes", path)
		}
	}
	for path := range jiraCallScopes {
		if !called[path] {
			t.Errorf("jiraCallScopes lists %s, which gitrelay no longer calls", path)
		}
	}

	want := map[string]bool{"read:app-system-token": true, "read:app-user-token": true}
	for _, scopes := range jiraCallScopes {
		for _, s := range scopes {
			want[s] = true
		}
	}
	got := manifestScopes(t, readForge(t, "manifest.yml"))
	for s := range want {
		if !got[s] {
			t.Errorf("manifest.yml lacks the scope %s", s)
		}
	}
	for s := range got {
		if !want[s] {
			t.Errorf("manifest.yml asks for %s, which no call needs", s)
		}
	}
}

// manifestScopes reads permissions.scopes from the manifest.
func manifestScopes(t *testing.T, manifest string) map[string]bool {
	t.Helper()
	_, rest, ok := strings.Cut(manifest, "\npermissions:\n  scopes:\n")
	if !ok {
		t.Fatal("manifest.yml has no permissions.scopes list")
	}
	got := map[string]bool{}
	for _, line := range strings.Split(rest, "\n") {
		item, isItem := strings.CutPrefix(line, "    - ")
		switch {
		case isItem:
			got[strings.TrimSpace(item)] = true
		case strings.HasPrefix(strings.TrimSpace(line), "#"):
		default:
			return got
		}
	}
	return got
}

// TestForgeManifestPassesAtlassiansValidation runs @forge/manifest's
// validation (what `forge lint` checks locally) over the manifest and the
// built panel. It needs node, the Forge app's dependencies and its build:
// scripts/ensure-forge.
func TestForgeManifestPassesAtlassiansValidation(t *testing.T) {
	if _, err := os.Stat(filepath.Join(forgeDir, "node_modules", "@forge", "manifest")); err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_FORGE") == "1" {
			t.Fatal("forge/node_modules is missing: run scripts/ensure-forge")
		}
		t.Skip("forge/node_modules is missing: run scripts/ensure-forge to validate the manifest")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_FORGE") == "1" {
			t.Fatal("node is not installed")
		}
		t.Skip("node is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(forgeDir, "scripts", "validate-manifest.mjs"), "https://gitrelay.example.com").CombinedOutput()
	if err != nil {
		t.Fatalf("manifest validation failed: %v\n%s", err, out)
	}
}

// panelCalls finds the panel's call('METHOD', path) expressions and turns
// each path into a route pattern: string literals are kept, every other
// term (an encoded id) becomes {id}, path('/x') is the issue's
// /forge/issues/{key}/x, and query strings are dropped.
func panelCalls(js string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`call\('(GET|POST|PUT|PATCH|DELETE)', `).FindAllStringSubmatchIndex(js, -1) {
		method := js[m[2]:m[3]]
		rest := js[m[1]:]
		// The path expression ends at the first comma or closing
		// parenthesis outside parentheses.
		depth, end := 0, len(rest)
	scan:
		for i, r := range rest {
			switch r {
			case '(':
				depth++
			case ')':
				if depth == 0 {
					end = i
					break scan
				}
				depth--
			case ',':
				if depth == 0 {
					end = i
					break scan
				}
			}
		}
		var b strings.Builder
		for _, term := range strings.Split(rest[:end], " + ") {
			term = strings.TrimSpace(term)
			switch {
			case strings.HasPrefix(term, "path('"):
				b.WriteString("/forge/issues/{key}" + strings.TrimSuffix(strings.TrimPrefix(term, "path('"), "')"))
			case strings.HasPrefix(term, "'"):
				b.WriteString(strings.Trim(term, "'"))
			default:
				b.WriteString("{id}")
			}
		}
		p, _, _ := strings.Cut(b.String(), "?")
		out = append(out, method+" "+p)
	}
	return out
}
