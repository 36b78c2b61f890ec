package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// sentAt records when the host sent its last webhook delivery.
type sentAt struct {
	next http.RoundTripper
	at   atomic.Int64
}

func (s *sentAt) RoundTrip(r *http.Request) (*http.Response, error) {
	s.at.Store(time.Now().UnixNano())
	return s.next.RoundTrip(r)
}

// BenchmarkPushToPanelAfterWebhook measures how long a push takes to show
// on the issue panel after the host sends its webhook: the delivery is
// verified and queued, a job drains the queue, makes the repository due
// and reads it (refs, fetch, walk, save), and the panel's API answer lists
// the commit. Scheduled polls are an hour away, so only the webhook can
// bring it. Run with -benchtime=50x for percentiles worth reading; it
// prints p50 and p99.
func BenchmarkPushToPanelAfterWebhook(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		e := apptest.New(b, db, apptest.Options{Index: true, Jobs: true,
			IndexSchedule: app.IndexConfig{PollEvery: time.Hour, DiscoverEvery: time.Hour}})
		id := e.Integration(false, nil)
		ctx := b.Context()
		if err := e.App.Indexer.Discover(ctx); err != nil {
			b.Fatal(err)
		}
		for {
			n, err := e.App.Indexer.PollDue(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		hook := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil).JSON()
		sent := &sentAt{next: e.Client.Transport}
		if sent.next == nil {
			sent.next = http.DefaultTransport
		}
		e.Sim.AddHook(apptest.Repo, hostsim.Hook{URL: e.URL + "/hooks/" + id, Secret: hook["secret"].(string), Format: hostsim.HookGitHub,
			Client: &http.Client{Transport: sent, Timeout: 10 * time.Second}})

		var lat []time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key := fmt.Sprintf("ABC-%d", 1000+i)
			msg := key + " Pushed"
			if _, err := e.Git.Commit(apptest.Repo, "feature/"+key, hostsim.Change{Message: msg}); err != nil {
				b.Fatal(err)
			}
			from := time.Unix(0, sent.at.Load())
			deadline := time.Now().Add(time.Minute)
			for !panelShows(b, e, key, msg) {
				if time.Now().After(deadline) {
					b.Fatalf("%s did not show within a minute", key)
				}
				time.Sleep(2 * time.Millisecond)
			}
			lat = append(lat, time.Since(from))
		}
		b.StopTimer()
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
		b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
		fmt.Printf("push→panel after the webhook (%s, %d pushes): p50 %v, p99 %v\n", db.Dialect(), len(lat),
			p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	})
}

func panelShows(b *testing.B, e *apptest.Env, key, msg string) bool {
	r := e.Do("GET", "/api/v1/issues/"+key+"/development", e.Bob, nil)
	if r.Status != http.StatusOK {
		b.Fatalf("development of %s: %d %s", key, r.Status, r.Body)
	}
	var d httpx.Development
	if err := json.Unmarshal(r.Body, &d); err != nil {
		b.Fatal(err)
	}
	return hasCommit(msg)(d)
}
