package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// selectedOption is the option chosen in the select named name.
func selectedOption(body, name string) string {
	m := regexp.MustCompile(`(?s)<select[^>]*name="`+regexp.QuoteMeta(name)+`"[^>]*>(.*?)</select>`).FindAllStringSubmatch(body, -1)
	for _, sel := range m {
		if o := regexp.MustCompile(`<option selected>([^<]*)</option>`).FindStringSubmatch(sel[1]); o != nil {
			return o[1]
		}
	}
	return ""
}

func TestAddIntegrationComesBackAsSentAfterARefusal(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	sent := url.Values{"csrf": {v.csrf()}, "kind": {"tfs"}, "name": {"Old TFS"}, "base_url": {"http://127.0.0.1:1"},
		"option.suffix": {"/custom"}, "option.collection": {"Coll2"}, "option.server_version": {"2015"},
		"username": {"builder"}, "password": {"pw-CANARY-0000000000000000000000000001"},
		"projects_mode": {"restrict"}, "projects": {"ABC"}, "require_user_pat": {"on"}}
	p := v.post("/admin/integrations", sent)
	if p.Status < 400 {
		t.Fatalf("an unreachable server was saved: %d", p.Status)
	}
	if got := selectedOption(p.Body, "option.server_version"); got != "2015" {
		t.Errorf("server version shown = %q, want 2015 as sent", got)
	}
	for _, want := range []string{`value="/custom"`, `value="Coll2"`, `name="username" value="builder"`, `value="Old TFS"`, `value="http://127.0.0.1:1"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the form does not come back with %s", want)
		}
	}
	if !strings.Contains(p.Body, `<option value="tfs" selected`) {
		t.Error("the kind does not come back as tfs")
	}
	if strings.Contains(p.Body, "pw-CANARY") {
		t.Fatal("the password is echoed back in the page")
	}
	if !strings.Contains(p.Body, "data-resend") {
		t.Error("the page does not ask to type the password again")
	}
	warning := regexp.MustCompile(`<p[^>]*data-no-pat-warning="tfs"[^>]*>`).FindString(p.Body)
	if warning == "" || strings.Contains(warning, "hidden") {
		t.Errorf("the TFS 2015 warning is not shown with Require User PAT ticked: %q", warning)
	}
}

func TestAddIntegrationKeepsAnEmptySuffix(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	p := v.post("/admin/integrations", url.Values{"csrf": {v.csrf()}, "kind": {"tfs"}, "name": {"TFS"}, "base_url": {"http://127.0.0.1:1"},
		"option.suffix": {""}, "option.collection": {"C"}, "option.server_version": {"2022"}, "token": {"x"}, "projects_mode": {"all"}})
	if p.Status == http.StatusSeeOther {
		t.Fatal("an unreachable server was saved")
	}
	if !regexp.MustCompile(`name="option.suffix" value=""`).MatchString(p.Body) {
		t.Error("an emptied suffix comes back filled with the default")
	}
}

func TestTokenPageNamesKindsAndCredentialFieldsFromTheAdapter(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	body := v.get("/settings/tokens").Body
	if !strings.Contains(body, "GitHub Enterprise Server") || strings.Contains(body, `<span class="tag">github-enterprise</span>`) {
		t.Error("the kind is not shown by its name")
	}
	if !strings.Contains(body, `id="token-`+id+`"`) {
		t.Error("the token field is missing")
	}
}
