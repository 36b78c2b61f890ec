package app_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// selfHosted are the fixtures whose address an administrator types (base
// URL, or CodeCommit's endpoint and STS endpoint options).
func selfHosted() []apptest.Fixture {
	var out []apptest.Fixture
	for _, f := range apptest.Fixtures() {
		if f.Endpoints == nil {
			out = append(out, f)
		}
	}
	return out
}

// An integration pointing at an address the egress policy refuses (the
// cloud metadata service, in any spelling) is refused with 422
// host_not_allowed naming the address class and the operator's setting,
// on creation and on update, for every host kind; the test servers on
// loopback, allowed by the same setting, still work.
func TestIntegrationAtARefusedAddressAnswers422(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, []string{"ABC"})
		for _, f := range selfHosted() {
			for _, target := range []string{"http://169.254.169.254", "http://[::ffff:169.254.169.254]:8080", "http://[fe80::1]"} {
				t.Run(f.Label()+" "+target, func(t *testing.T) {
					body := f.Integration(target)
					body["name"], body["credential"], body["projects"] = "Metadata", f.Credential(apptest.BotToken), []string{"ABC"}
					r := e.Do("POST", "/api/v1/integrations", e.Admin, body)
					msg := r.ErrorField("message")
					if r.Status != http.StatusUnprocessableEntity || r.Code() != relay.EHostNotAllowed ||
						!strings.Contains(msg, "link-local address") || !strings.Contains(msg, "--egress-allow") {
						t.Errorf("create: %d %s, want 422 host_not_allowed naming the class and the setting", r.Status, r.Body)
					}
				})
			}
		}
		r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{
			"base_url": "http://169.254.169.254", "credential": map[string]string{"token": apptest.BotToken}})
		if r.Status != http.StatusUnprocessableEntity || r.Code() != relay.EHostNotAllowed {
			t.Errorf("update to the metadata address: %d %s, want 422 host_not_allowed", r.Status, r.Body)
		}
	})
}

// A host answering without end costs gitrelay a bounded amount of memory:
// the answer is read up to the cap, and the caller gets host_error saying
// so.
func TestEndlessAnswerKeepsTheHeapBounded(t *testing.T) {
	const streamed = 512 << 20 // far beyond the cap; bounded so that a regression fails instead of hanging
	var written atomic.Int64
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// JSON for every API, but XML for AWS STS (a form POST).
		start, ct := `{"login":"`, "application/json"
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			start, ct = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>`, "text/xml"
		}
		w.Header().Set("Content-Type", ct)
		if _, err := w.Write([]byte(start)); err != nil {
			return
		}
		chunk := []byte(strings.Repeat("a", 64<<10))
		for written.Load() < streamed {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer endless.Close()
	// A generous time limit: decoding 4 MiB of XML (CodeCommit's STS) is
	// slow under the race detector, and this test is about memory.
	e := apptest.New(t, storetest.SQLite(t), apptest.Options{HostTimeout: time.Minute})
	for _, f := range selfHosted() {
		t.Run(f.Label(), func(t *testing.T) {
			written.Store(0)
			body := f.Integration(endless.URL)
			body["name"], body["credential"], body["projects"] = "Endless", f.Credential(apptest.BotToken), []string{"ABC"}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := e.Do("POST", "/api/v1/integrations", e.Admin, body)
			runtime.ReadMemStats(&after)
			if r.Status != http.StatusBadGateway || r.Code() != relay.EHostError {
				t.Errorf("create: %d %s, want 502 host_error", r.Status, r.Body)
			}
			if !strings.Contains(r.ErrorField("message"), "exceeded 4 MiB") {
				t.Errorf("message %q does not say the answer exceeded the cap", r.ErrorField("message"))
			}
			// Everything allocated during the call, freed or not: a read
			// of the whole stream would be hundreds of MiB.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("the call allocated %d MiB against an endless answer, want a bounded amount (< 64 MiB)", grew>>20)
			}
			if w := written.Load(); w >= streamed {
				t.Errorf("the host could write %d MiB: gitrelay read on past the cap", w>>20)
			}
		})
	}
}

// Errors quote only the error fields a host defines, bounded; never the
// body of whatever server answered.
func TestErrorsQuoteNoRawBody(t *testing.T) {
	page := "<html><head><title>CANARY proxy error</title></head><body>" + strings.Repeat("<p>CANARY internal detail</p>", 1<<20/30) + "</body></html>"
	long := strings.Repeat("x", 5000) + "CANARY-END"
	var answer atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer.Load().(struct {
			status      int
			contentType string
			body        string
		})
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	e := apptest.New(t, storetest.SQLite(t))
	for _, f := range selfHosted() {
		for _, a := range []struct {
			name        string
			status      int
			contentType string
			body        string
		}{
			{"HTML page 403", http.StatusForbidden, "text/html", page},
			{"HTML page 404", http.StatusNotFound, "text/html", page},
			{"HTML page 400", http.StatusBadRequest, "text/html", page},
			{"HTML page 500", http.StatusInternalServerError, "text/html", page},
			{"HTML page 200", http.StatusOK, "text/html", page},
			{"long message field", http.StatusForbidden, "application/json", `{"message":"` + long + `","__type":"AccessDeniedException"}`},
		} {
			t.Run(f.Label()+" "+a.name, func(t *testing.T) {
				answer.Store(struct {
					status      int
					contentType string
					body        string
				}{a.status, a.contentType, a.body})
				body := f.Integration(srv.URL)
				body["name"], body["credential"], body["projects"] = "Noisy", f.Credential(apptest.BotToken), []string{"ABC"}
				r := e.Do("POST", "/api/v1/integrations", e.Admin, body)
				msg := r.ErrorField("message")
				if r.Status < 400 || msg == "" {
					t.Fatalf("create: %d %s, want an error", r.Status, r.Body)
				}
				if strings.Contains(string(r.Body), "CANARY") || strings.Contains(msg, "<") {
					t.Errorf("the error quotes the server's page: %s", r.Body)
				}
				if n := utf8.RuneCountInString(msg); n > 2*host.MaxQuote {
					t.Errorf("message of %d characters: %q", n, msg)
				}
				if x := strings.Count(msg, "x"); x > host.MaxQuote {
					t.Errorf("the message quotes %d characters of the host's message, want at most %d", x, host.MaxQuote)
				}
			})
		}
	}
}

// In Jira mode the outbound client refuses private ranges too, unless the
// operator allows them; standalone, the operator's own administrators may
// use them.
func TestJiraModeRefusesPrivateAddresses(t *testing.T) {
	private := netip.MustParseAddr("10.20.30.40")
	jira := app.JiraConfig{AppID: "ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000"}
	// Through the client New builds: refused before connecting.
	_, err := app.NewHTTPClient(app.Config{Jira: jira, HostTimeout: 5 * time.Second}).Get("http://10.20.30.40:1/")
	if !errors.As(err, new(*host.NotAllowedError)) {
		t.Errorf("Jira mode: %v, want the private address refused", err)
	}
	jiraAllowed := app.EgressPolicy(app.Config{Jira: jira, EgressAllow: host.MustAllowlist("10.20.0.0/16")})
	if err := jiraAllowed.Check("git.corp.example", private); err != nil {
		t.Errorf("Jira mode with the range allowed: %v", err)
	}
	standalone := app.EgressPolicy(app.Config{})
	if err := standalone.Check("git.corp.example", private); err != nil {
		t.Errorf("standalone: %v, want private addresses allowed", err)
	}
	if err := standalone.Check("localhost", netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Error("standalone: loopback allowed without the operator's setting")
	}
}
