package server

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/web"
)

// route is one entry of gitrelay's URL surface.
type route struct {
	method, pattern string
	// auth: "" = public, "user" = any signed-in user (admin checks happen
	// in the action layer, which knows what each action needs), "issue" =
	// "user" for a request on an issue whose first database read checks
	// the API token and the grant on the issue's project with it
	// (directory.AuthenticateTokenChecked): its handler reads the database
	// before it decides anything, and never decides with the principal's
	// administrator flag.
	auth    string
	handler apiFunc
}

// routes is the whole URL surface of the JSON API. Every route here must be
// documented in openapi.json (a test checks it).
func (s *Server) routes() []route {
	return []route{
		{"GET", "/api/v1/me", "user", s.me},
		{"GET", "/api/v1/kinds", "user", s.kinds},

		{"POST", "/api/v1/integrations", "user", s.createIntegration},
		{"GET", "/api/v1/integrations", "user", s.listIntegrations},
		{"GET", "/api/v1/integrations/{id}", "user", s.getIntegration},
		{"PATCH", "/api/v1/integrations/{id}", "user", s.patchIntegration},
		{"DELETE", "/api/v1/integrations/{id}", "user", s.deleteIntegration},
		{"GET", "/api/v1/integrations/{id}/repositories", "user", s.listRepositories},
		{"GET", "/api/v1/integrations/{id}/repositories/{repo_id}/branches", "user", s.listBranches},
		{"GET", "/api/v1/integrations/{id}/webhook", "user", s.getWebhook},
		{"POST", "/api/v1/integrations/{id}/webhook/rotate", "user", s.rotateWebhook},
		{"POST", "/api/v1/integrations/{id}/webhook/register", "user", s.registerWebhook},
		{"GET", "/api/v1/integrations/{id}/index", "user", s.getIndex},
		{"POST", "/api/v1/integrations/{id}/index", "user", s.reindex},
		{"POST", "/api/v1/integrations/{id}/repositories/{repo_id}/index", "user", s.reindex},

		{"GET", "/api/v1/me/api-tokens", "user", s.myAPITokens},
		{"DELETE", "/api/v1/me/api-tokens/{id}", "user", s.revokeMyAPIToken},

		{"GET", "/api/v1/me/tokens", "user", s.myTokens},
		{"GET", "/api/v1/me/tokens/{integration_id}", "user", s.myToken},
		{"PUT", "/api/v1/me/tokens/{integration_id}", "user", s.putToken},
		{"DELETE", "/api/v1/me/tokens/{integration_id}", "user", s.deleteToken},

		{"GET", "/api/v1/issues/{key}/development", "issue", s.development},
		{"GET", "/api/v1/issues/{key}/branch-name", "user", s.branchName},
		{"POST", "/api/v1/issues/{key}/branches", "issue", s.createBranch},
		{"DELETE", "/api/v1/issues/{key}/branches", "issue", s.deleteBranch},
		{"POST", "/api/v1/issues/{key}/pull-requests", "issue", s.createPullRequest},

		{"GET", "/api/v1/audit", "user", s.audit},
		{"GET", "/api/v1/settings", "user", s.getSettings},
		{"PUT", "/api/v1/settings", "user", s.putSettings},

		{"GET", "/api/v1/users", "user", s.listUsers},
		{"POST", "/api/v1/users", "user", s.createUser},
		{"DELETE", "/api/v1/users/{username}", "user", s.deleteUser},
		{"POST", "/api/v1/users/{username}/api-tokens", "user", s.createAPIToken},
		{"GET", "/api/v1/users/{username}/api-tokens", "user", s.userAPITokens},
		{"DELETE", "/api/v1/users/{username}/api-tokens/{id}", "user", s.revokeUserAPIToken},
		{"GET", "/api/v1/projects", "user", s.listProjects},
		{"POST", "/api/v1/projects", "user", s.createProject},
		{"DELETE", "/api/v1/projects/{key}", "user", s.deleteProject},
		{"GET", "/api/v1/projects/{key}/grants", "user", s.listGrants},
		{"POST", "/api/v1/projects/{key}/grants", "user", s.createGrant},
		{"DELETE", "/api/v1/projects/{key}/grants", "user", s.deleteGrant},

		{"GET", "/api/v1/openapi.json", "", s.openapi},
	}
}

// page is one HTML page of the web app.
type page struct {
	// method is empty for a pattern that answers every method.
	method, pattern string
	// access: web.Asset (no session), web.Public, web.User (signed in) or
	// web.Admin.
	access  string
	handler web.PageFunc
}

// pages is the whole URL surface of the web app (served when the server
// has pages).
func (s *Server) pages() []page {
	w := s.web
	return []page{
		{"GET", "/{$}", web.Public, w.Home},
		{"GET", "/static/", web.Asset, w.Static},
		{"GET", "/login", web.Public, w.LoginForm},
		{"POST", "/login", web.Public, w.Login},
		{"POST", "/logout", web.User, w.Logout},
		{"GET", "/settings/password", web.User, w.PasswordForm},
		{"POST", "/settings/password", web.User, w.ChangePassword},

		{"GET", "/issues", web.User, w.OpenIssue},
		{"GET", "/issues/{key}", web.User, w.Issue},
		{"POST", "/issues/{key}/branches", web.User, w.CreateBranch},
		{"GET", "/issues/{key}/branches/delete", web.User, w.ConfirmDeleteBranch},
		{"POST", "/issues/{key}/branches/delete", web.User, w.DeleteBranch},
		{"POST", "/issues/{key}/pull-requests", web.User, w.CreatePullRequest},

		{"GET", "/settings/tokens", web.User, w.Tokens},
		{"POST", "/settings/tokens/{id}", web.User, w.SaveToken},
		{"POST", "/settings/tokens/{id}/remove", web.User, w.RemoveToken},
		{"GET", "/settings/api-tokens", web.User, w.APITokens},
		{"POST", "/settings/api-tokens/{id}/revoke", web.User, w.RevokeAPIToken},

		{"GET", "/admin/integrations", web.Admin, w.Integrations},
		{"GET", "/admin/integrations/new", web.Admin, w.NewIntegration},
		{"POST", "/admin/integrations", web.Admin, w.CreateIntegration},
		{"GET", "/admin/integrations/{id}", web.Admin, w.EditIntegration},
		{"POST", "/admin/integrations/{id}", web.Admin, w.UpdateIntegration},
		{"POST", "/admin/integrations/{id}/test", web.Admin, w.TestIntegration},
		{"POST", "/admin/integrations/{id}/index", web.Admin, w.ReindexIntegration},
		{"POST", "/admin/integrations/{id}/webhook/rotate", web.Admin, w.RotateWebhook},
		{"POST", "/admin/integrations/{id}/webhook/register", web.Admin, w.RegisterWebhooks},
		{"GET", "/admin/integrations/{id}/delete", web.Admin, w.ConfirmDeleteIntegration},
		{"POST", "/admin/integrations/{id}/delete", web.Admin, w.DeleteIntegration},
		{"GET", "/admin/settings", web.Admin, w.Settings},
		{"POST", "/admin/settings", web.Admin, w.SaveSettings},
		{"GET", "/admin/settings/preview", web.Admin, w.SettingsPreview},
		{"GET", "/admin/audit", web.Admin, w.Audit},
		{"GET", "/admin/audit.csv", web.Admin, w.AuditCSV},
		{"GET", "/admin/directory", web.Admin, w.Directory},
		{"POST", "/admin/users", web.Admin, w.AddUser},
		{"POST", "/admin/projects", web.Admin, w.AddProject},
		{"POST", "/admin/grants", web.Admin, w.AddGrant},

		// Any other URL: a page saying there is none, with links onwards.
		{"", "/", web.Public, w.NotFound},
	}
}

// mux builds the handler for every route, plus the operational endpoints.
func (s *Server) mux() *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range s.routes() {
		m.Handle(rt.method+" "+rt.pattern, s.api(rt))
	}
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if s.publicMetrics {
		m.Handle("GET /metrics", s.metrics.Handler())
	}
	m.Handle("/api/", s.api(route{pattern: "/api/", handler: s.apiNotFound}))
	if s.hooks != nil {
		// Each delivery proves itself with the integration's secret
		// (internal/webhook); there is no session or API token.
		m.Handle("POST /hooks/{integration_id}", s.hooks)
	}
	// Jira Cloud (internal/jira), when configured: the Forge remote
	// endpoints under /forge/ (each verifies the Forge invocation token
	// itself) and Sign in with Atlassian under /auth/atlassian/.
	for _, rt := range s.jira {
		m.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	if s.web != nil {
		for _, pg := range s.pages() {
			pattern := pg.pattern
			if pg.method != "" {
				pattern = pg.method + " " + pattern
			}
			m.Handle(pattern, s.web.Handle(pg.access, pg.handler))
		}
	}
	return m
}
