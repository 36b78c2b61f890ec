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
		js := readForge(t, "static/panel/panel.js")
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
	t.Run("the remote gets both tokens and the scopes they need", func(t *testing.T) {
		for _, want := range []string{"read:app-system-token", "read:app-user-token", "read:jira-work", "read:jira-user",
			"write:dev-info:jira", "delete:dev-info:jira", "appSystemToken:\n          enabled: true", "appUserToken:\n          enabled: true"} {
			if !strings.Contains(manifest, want) {
				t.Fatalf("manifest.yml lacks %q", want)
			}
		}
	})
}

// TestForgeManifestPassesAtlassiansValidation runs @forge/manifest's
// validation (what `forge lint` checks locally). It needs node and the
// Forge app's dependencies: `npm ci --prefix forge`.
func TestForgeManifestPassesAtlassiansValidation(t *testing.T) {
	if _, err := os.Stat(filepath.Join(forgeDir, "node_modules", "@forge", "manifest")); err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_FORGE") == "1" {
			t.Fatal("forge/node_modules is missing: run npm ci --prefix forge")
		}
		t.Skip("forge/node_modules is missing: run `npm ci --prefix forge` to validate the manifest")
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
