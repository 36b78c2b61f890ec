package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleRSS boots `gitrelay serve` on an empty SQLite data directory,
// lets it settle, and reports its resident memory.
func BenchmarkIdleRSS(b *testing.B) {
	for i := 0; i < b.N; i++ {
		env := baseEnv("GITRELAY_DATA=" + b.TempDir())
		p := serve(b, env)
		time.Sleep(2 * time.Second)
		kb, err := rssKB(p.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(kb)/1024, "MB-RSS")
		p.stop()
	}
}

func rssKB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", pid)
}
