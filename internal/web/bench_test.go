package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// BenchmarkPages measures gitrelay's own time to render the issue page and
// User settings → Personal access tokens for a user who sees 50
// integrations over 5,000 repositories, with branches on the issue and a
// token for every integration. Neither page calls a git host (repository
// search happens in the dialog, through the API), so this is the server's
// render cost: session, store reads and the template. It reports the
// median per page (target: at most 5 ms).
func BenchmarkPages(b *testing.B) {
	db := storetest.SQLite(b)
	env := apptest.New(b, db, apptest.Options{InProcess: true})
	ctx := context.Background()
	for i := range 5000 {
		env.Sim.AddRepo(hostsim.Repo{Owner: fmt.Sprintf("org%02d", i%50), Name: fmt.Sprintf("repo-%04d", i),
			Private: true, Writers: []string{apptest.BotLogin, apptest.BobLogin}})
	}
	var ids []string
	for range 50 {
		ids = append(ids, env.Integration(false, nil))
	}
	for _, id := range ids {
		if r := env.SaveToken(env.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
			b.Fatalf("saving token: %d %s", r.Status, r.Body)
		}
	}
	for i := range 10 {
		if r := env.CreateBranch(env.Bob, ids[i], fmt.Sprintf("ABC-1-branch-%d", i)); r.Status != http.StatusCreated {
			b.Fatalf("creating branch: %d %s", r.Status, r.Body)
		}
	}
	u, err := db.UserByUsername(ctx, relay.LocalTenant, "bob")
	if err != nil {
		b.Fatal(err)
	}
	if err := env.App.Directory.SetPassword(ctx, relay.LocalTenant, u.ID, bobPassword); err != nil {
		b.Fatal(err)
	}
	h := env.App.Server.Handler()
	login := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"username": {"bob"}, "password": {bobPassword}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, login)
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		b.Fatalf("sign-in set no cookie: %d", rec.Code)
	}

	for _, page := range []struct{ name, path, want string }{
		{"issue", "/issues/ABC-1?summary=Fix+login+timeout&type=Bug", "ABC-1-branch-9"},
		{"tokens", "/settings/tokens", "Valid as " + apptest.BobLogin},
	} {
		b.Run(page.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				req := httptest.NewRequest("GET", page.path, nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), page.want) {
					b.Fatalf("got %d without %q", rec.Code, page.want)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
		})
	}
}
