package server

import "net/http"

// route is one entry of gitrelay's URL surface.
type route struct {
	method, pattern string
	// auth: "" = public, "user" = any signed-in user (admin checks happen
	// in the action layer, which knows what each action needs).
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

		{"GET", "/api/v1/me/tokens", "user", s.myTokens},
		{"GET", "/api/v1/me/tokens/{integration_id}", "user", s.myToken},
		{"PUT", "/api/v1/me/tokens/{integration_id}", "user", s.putToken},
		{"DELETE", "/api/v1/me/tokens/{integration_id}", "user", s.deleteToken},

		{"GET", "/api/v1/issues/{key}/development", "user", s.development},
		{"GET", "/api/v1/issues/{key}/branch-name", "user", s.branchName},
		{"POST", "/api/v1/issues/{key}/branches", "user", s.createBranch},
		{"DELETE", "/api/v1/issues/{key}/branches", "user", s.deleteBranch},
		{"POST", "/api/v1/issues/{key}/pull-requests", "user", s.createPullRequest},

		{"GET", "/api/v1/audit", "user", s.audit},
		{"GET", "/api/v1/settings", "user", s.getSettings},
		{"PUT", "/api/v1/settings", "user", s.putSettings},

		{"GET", "/api/v1/users", "user", s.listUsers},
		{"POST", "/api/v1/users", "user", s.createUser},
		{"DELETE", "/api/v1/users/{username}", "user", s.deleteUser},
		{"POST", "/api/v1/users/{username}/api-tokens", "user", s.createAPIToken},
		{"GET", "/api/v1/projects", "user", s.listProjects},
		{"POST", "/api/v1/projects", "user", s.createProject},
		{"DELETE", "/api/v1/projects/{key}", "user", s.deleteProject},
		{"GET", "/api/v1/projects/{key}/grants", "user", s.listGrants},
		{"POST", "/api/v1/projects/{key}/grants", "user", s.createGrant},
		{"DELETE", "/api/v1/projects/{key}/grants", "user", s.deleteGrant},

		{"GET", "/api/v1/openapi.json", "", s.openapi},
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
	m.Handle("GET /metrics", s.metrics.Handler())
	m.Handle("/api/", s.api(route{pattern: "/api/", handler: s.apiNotFound}))
	return m
}
