package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// serveSettings is every flag of `gitrelay serve` that an environment
// variable stands for, with two valid values that are not the default.
var serveSettings = []struct {
	flag, env string
	def, a, b string
	// needs are arguments the setting cannot be given without.
	needs []string
	get   func(serveConfig) string
}{
	{"data", "GITRELAY_DATA", "./gitrelay-data", "/srv/a", "/srv/b", nil, func(c serveConfig) string { return c.dataDir }},
	{"database-url", "GITRELAY_DATABASE_URL", "", "postgres://a@db/a", "postgres://b@db/b", nil, func(c serveConfig) string { return c.databaseURL }},
	{"secret-key-file", "GITRELAY_SECRET_KEY_FILE", "", "/run/a.key", "/run/b.key", nil, func(c serveConfig) string { return c.secretKeyFile }},
	{"addr", "GITRELAY_ADDR", "127.0.0.1:8080", "0.0.0.0:8081", "127.0.0.1:8082", nil, func(c serveConfig) string { return c.addr }},
	{"public-url", "GITRELAY_PUBLIC_URL", "", "https://a.example", "https://b.example", nil, func(c serveConfig) string { return c.app.PublicURL }},
	{"host-timeout", "GITRELAY_HOST_TIMEOUT", "20s", "7s", "3s", nil, func(c serveConfig) string { return c.app.HostTimeout.String() }},
	{"jira-app-id", "GITRELAY_JIRA_APP_ID", "", "ari:cloud:ecosystem::app/a", "ari:cloud:ecosystem::app/b", []string{"--public-url", "https://x.example"},
		func(c serveConfig) string { return c.app.Jira.AppID }},
	{"jira-client-id", "GITRELAY_JIRA_CLIENT_ID", "", "client-a", "client-b", nil, func(c serveConfig) string { return c.app.Jira.ClientID }},
	{"trusted-proxies", "GITRELAY_TRUSTED_PROXIES", "", "10.0.0.0/8", "192.168.0.0/16", nil, func(c serveConfig) string { return c.app.ClientAddr.String() }},
	{"egress-allow", "GITRELAY_EGRESS_ALLOW", "", "10.20.0.0/16", "gitlab.corp.example", nil, func(c serveConfig) string { return c.app.EgressAllow.String() }},
	{"admin-password-file", "GITRELAY_ADMIN_PASSWORD_FILE", "", "/run/a", "/run/b", nil, func(c serveConfig) string { return c.adminPasswordFile }},
	{"metrics-addr", "GITRELAY_METRICS_ADDR", "", "127.0.0.1:9090", "10.0.0.5:9100", nil, func(c serveConfig) string { return c.metricsAddr }},
	{"index-rate-share", "GITRELAY_INDEX_RATE_SHARE", "0.5", "0.25", "0.75", nil, func(c serveConfig) string {
		return strconv.FormatFloat(c.app.IndexRateShare, 'f', -1, 64)
	}},
	{"index", "GITRELAY_INDEX", "on", "off", "false", nil, func(c serveConfig) string { return c.index }},
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// Every setting has one precedence: the flag given on the command line,
// else its environment variable, else the default.
func TestEverySettingIsFlagThenEnvironmentThenDefault(t *testing.T) {
	for _, s := range serveSettings {
		cases := []struct {
			name string
			args []string
			env  map[string]string
			want string
		}{
			{"default", nil, nil, s.def},
			{"environment over default", nil, map[string]string{s.env: s.a}, s.a},
			{"flag over default", []string{"--" + s.flag, s.b}, nil, s.b},
			{"flag over environment", []string{"--" + s.flag, s.b}, map[string]string{s.env: s.a}, s.b},
			{"flag=value over environment", []string{"--" + s.flag + "=" + s.b}, map[string]string{s.env: s.a}, s.b},
		}
		for _, tc := range cases {
			t.Run(s.flag+"/"+tc.name, func(t *testing.T) {
				c, err := parseServe(append(tc.args, s.needs...), envOf(tc.env), io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				// Values are compared as the config prints them.
				want := tc.want
				if s.flag == "trusted-proxies" || s.flag == "egress-allow" {
					want = printed(t, s.flag, want)
				}
				if got := s.get(c); got != want {
					t.Fatalf("--%s = %q, want %q", s.flag, got, want)
				}
			})
		}
	}
}

// printed is how the parsed config shows a list setting's value v.
func printed(t *testing.T, flag, v string) string {
	t.Helper()
	c, err := parseServe([]string{"--" + flag, v}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range serveSettings {
		if s.flag == flag {
			return s.get(c)
		}
	}
	t.Fatalf("no setting %s", flag)
	return ""
}

// helpEnvVars reads the flags a command's --help says an environment
// variable stands for.
var helpEnvVar = regexp.MustCompile(`(?m)^  -(\S+)[^\n]*\n(?:\s+[^-\s][^\n]*\n)*?[^\n]*\(env (\w+)\)`)

func helpOf(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append(args, "--help"), envOf(env), &out, &errb)
	if !errors.Is(err, errHelp) {
		t.Fatalf("%v --help: %v", args, err)
	}
	return out.String() + errb.String()
}

var everyCommand = [][]string{
	{"serve"}, {"users", "add"}, {"users", "api-token"}, {"projects", "add"}, {"projects", "grant"},
	{"keys", "rotate"}, {"migrate"}, {"audit", "tenants"}, {"audit", "export"}, {"audit", "reconcile"}, {"healthcheck"},
}

// The table above covers every environment-backed flag serve has, and
// every command reads a flag of the same name from the same variable.
func TestEveryEnvironmentVariableIsTested(t *testing.T) {
	tested := map[string]string{}
	for _, s := range serveSettings {
		tested[s.flag] = s.env
	}
	for _, cmd := range everyCommand {
		help := helpOf(t, cmd, nil)
		found := map[string]string{}
		for _, m := range helpEnvVar.FindAllStringSubmatch(help, -1) {
			found[m[1]] = m[2]
		}
		if len(found) == 0 {
			t.Fatalf("%v --help names no environment variable:\n%s", cmd, help)
		}
		for flag, env := range found {
			if tested[flag] != env {
				t.Errorf("%v: --%s reads %s, which serveSettings does not test (it has %q)", cmd, flag, env, tested[flag])
			}
		}
		if cmd[0] == "serve" && len(found) != len(tested) {
			t.Errorf("serve --help lists %d environment-backed flags, the table %d: %v", len(found), len(tested), found)
		}
	}
}

// --help prints built-in defaults only: a value read from the environment,
// such as a database URL with its password, never appears.
func TestHelpNeverPrintsASecretFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"GITRELAY_DATABASE_URL":       "postgres://gitrelay:Hunter2CANARY@db.internal/gitrelay",
		"GITRELAY_SECRET_KEY":         "S2VlcENBTkFSWWtleWtleWtleWtleWtleWtleWtleWs=",
		"GITRELAY_JIRA_CLIENT_SECRET": "jiraSecretCANARY",
		"GITRELAY_SECRET_KEY_FILE":    "/run/secrets/CANARYkeyfile",
		"GITRELAY_EGRESS_ALLOW":       "10.9.9.9",
	}
	for _, cmd := range everyCommand {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			help := helpOf(t, cmd, env)
			for _, secret := range []string{"Hunter2CANARY", "CANARY", "10.9.9.9"} {
				if strings.Contains(help, secret) {
					t.Fatalf("--help printed %q from the environment:\n%s", secret, help)
				}
			}
			if cmd[0] != "healthcheck" && !strings.Contains(help, "GITRELAY_DATABASE_URL") {
				t.Fatalf("--help does not name GITRELAY_DATABASE_URL:\n%s", help)
			}
		})
	}
}

func TestServeConfigRefusesBadSettingsSayingWhichAndHow(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"environment duration", nil, map[string]string{"GITRELAY_HOST_TIMEOUT": "soon"}, `GITRELAY_HOST_TIMEOUT="soon" is not a valid value for --host-timeout`},
		{"zero timeout from the environment", nil, map[string]string{"GITRELAY_HOST_TIMEOUT": "0s"}, "--host-timeout (or GITRELAY_HOST_TIMEOUT) must be a positive duration"},
		{"negative timeout flag", []string{"--host-timeout", "-1s"}, nil, "must be a positive duration such as 20s"},
		{"a bad environment value is not used when the flag is given", []string{"--host-timeout", "-1s"}, map[string]string{"GITRELAY_HOST_TIMEOUT": "soon"}, "must be a positive duration"},
		{"trusted proxies", nil, map[string]string{"GITRELAY_TRUSTED_PROXIES": "not-a-cidr"}, "--trusted-proxies (or GITRELAY_TRUSTED_PROXIES)"},
		{"egress allow", []string{"--egress-allow", "10.0.0.0/99"}, nil, "--egress-allow (or GITRELAY_EGRESS_ALLOW)"},
		{"index rate share above all", []string{"--index-rate-share", "150%"}, nil, "--index-rate-share (or GITRELAY_INDEX_RATE_SHARE) must be a share above 0"},
		{"index rate share of nothing", nil, map[string]string{"GITRELAY_INDEX_RATE_SHARE": "0"}, "GITRELAY_INDEX_RATE_SHARE"},
		{"jira without public url", nil, map[string]string{"GITRELAY_JIRA_APP_ID": "ari:cloud:ecosystem::app/x"}, "set --public-url"},
		{"demo with a database", []string{"--demo"}, map[string]string{"GITRELAY_DATABASE_URL": "postgres://u:pw@db/x"}, "demo"},
		{"arguments", []string{"now"}, nil, "serve takes no arguments"},
		{"unknown flag", []string{"--adr", "x"}, nil, "flag provided but not defined: -adr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServe(tt.args, envOf(tt.env), io.Discard)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a usage error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Fatalf("the error quotes the database URL: %v", err)
			}
		})
	}
}

func TestServeConfigCarriesEnvironmentOnlySettings(t *testing.T) {
	c, err := parseServe(nil, envOf(map[string]string{
		"GITRELAY_GITHUB_API_URL":     "https://ghproxy.example/",
		"GITRELAY_GITLAB_URL":         "https://gitlab.example",
		"GITRELAY_JIRA_CLIENT_SECRET": "s3cret",
		"GITRELAY_JIRA_JWKS_URL":      "https://keys.example",
		"GITRELAY_JIRA_AUTH_URL":      "https://auth.example",
		"GITRELAY_JIRA_API_URL":       "https://api.example",
		"GITRELAY_LOG_LEVEL":          "debug",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.app.GitHubAPIURL, c.app.GitLabURL, c.app.Jira.ClientSecret, c.app.Jira.JWKSURL, c.app.Jira.AuthURL, c.app.Jira.APIURL, c.logLevel}
	want := []string{"https://ghproxy.example/", "https://gitlab.example", "s3cret", "https://keys.example", "https://auth.example", "https://api.example", "debug"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAdminPasswordFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want, wantErr string
	}{
		{"one trailing newline is dropped", "correct horse battery\n", "correct horse battery", ""},
		{"a Windows line end is dropped", "correct horse battery\r\n", "correct horse battery", ""},
		{"only one newline is dropped", "0123456789\n\n", "0123456789\n", ""},
		{"no newline", "0123456789", "0123456789", ""},
		{"too short", "short\n", "", "has 5 characters; write one of at least 10 characters"},
		{"empty", "", "", "has 0 characters"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "pw"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readAdminPassword(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("got %q, %v; want an error naming the file and saying %q", got, err, tt.wantErr)
				}
				if tt.content != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.content)) {
					t.Fatalf("the error quotes the password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := readAdminPassword(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "GITRELAY_ADMIN_PASSWORD_FILE") {
		t.Fatalf("missing file: %v", err)
	}
	if got, err := readAdminPassword(""); got != "" || err != nil {
		t.Fatalf("no file: %q, %v", got, err)
	}
}

func TestVersionLineComesFromTheBuild(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "3aef82b0c0ffee"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}}
	tests := []struct {
		name string
		set  string
		info *debug.BuildInfo
		want string
	}{
		{"set at build time", "1.2.3", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"gitrelay 1.2.3 (revision 3aef82b0c0ffee, committed 2026-12-01T10:00:00Z, built with go1.26.8)"},
		{"go install of a tagged module", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			"gitrelay v1.4.0 (built with go1.26.8)"},
		{"a checkout with changes", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: append(vcs, debug.BuildSetting{Key: "vcs.modified", Value: "true"})},
			"gitrelay (devel) (revision 3aef82b0c0ffee (modified), committed 2026-12-01T10:00:00Z)"},
		{"no build information", "dev", nil, "gitrelay dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.set, tt.info); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
