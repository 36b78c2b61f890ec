package app_test

import (
	"fmt"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// BenchmarkCreateBranch is the whole create-branch request through the HTTP
// API (authentication, permission, identity choice with a user PAT opened
// from the vault, three host calls to the in-process simulator at zero
// latency, the record and its audit row in one transaction). It reports
// the median and 99th percentile of single requests.
func BenchmarkCreateBranch(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		e := apptest.New(b, db, apptest.Options{InProcess: true})
		id := e.Integration(true, nil)
		if r := e.SaveToken(e.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
			b.Fatalf("save token: %d %s", r.Status, r.Body)
		}
		lat := make([]time.Duration, 0, b.N)
		own := make([]time.Duration, 0, b.N)
		server := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start, host, srv := time.Now(), e.HostTime(), e.ServerTime()
			r := e.CreateBranch(e.Bob, id, fmt.Sprintf("ABC-1-bench-%d", i))
			d := time.Since(start)
			hostd := e.HostTime() - host
			lat = append(lat, d)
			own = append(own, d-hostd)
			server = append(server, e.ServerTime()-srv-hostd)
			if r.Status != http.StatusCreated {
				b.Fatalf("create branch: %d %s", r.Status, r.Body)
			}
		}
		b.StopTimer()
		reportPercentiles(b, lat, "")
		// The request minus the time inside the host (the test client's
		// work included) ...
		reportPercentiles(b, own, "own-")
		// ... and gitrelay's own time proper: its handler minus the host.
		reportPercentiles(b, server, "server-")
	})
}

// BenchmarkCreateBranchParallel measures attributed actions per second with
// 32 concurrent clients.
func BenchmarkCreateBranchParallel(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		e := apptest.New(b, db, apptest.Options{InProcess: true})
		id := e.Integration(true, nil)
		if r := e.SaveToken(e.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
			b.Fatalf("save token: %d %s", r.Status, r.Body)
		}
		e.Client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		var n atomic.Int64
		clients := 32
		b.SetParallelism((clients + 1) / 2) // × GOMAXPROCS (2 here) goroutines
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				r := e.CreateBranch(e.Bob, id, fmt.Sprintf("ABC-1-par-%d", i))
				if r.Status != http.StatusCreated {
					b.Errorf("create branch: %d %s", r.Status, r.Body)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "actions/s")
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration, prefix string) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), prefix+"p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), prefix+"p99-µs")
}
