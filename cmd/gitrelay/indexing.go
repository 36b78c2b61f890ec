package main

import (
	"strconv"
	"strings"
)

// indexRateShareFlag registers --index-rate-share
// (GITRELAY_INDEX_RATE_SHARE): the share of each integration account's
// remaining rate limit that indexing reads may spend, as a percentage
// ("50%") or a fraction ("0.5"). The returned function reads it after
// parse.
func indexRateShareFlag(fs *settings) func() (float64, error) {
	v := fs.String("index-rate-share", "50%",
		"share of each integration account's remaining host rate limit that indexing may spend; indexing waits for the reset beyond it, so users' actions keep the rest")
	fs.fromEnv("index-rate-share", "GITRELAY_INDEX_RATE_SHARE")
	return func() (float64, error) {
		share, ok := parseShare(*v)
		if !ok {
			return 0, usagef("%s must be a share above 0 and at most 100%%, such as 50%% or 0.5", fs.flagOrEnv("index-rate-share"))
		}
		return share, nil
	}
}

// parseShare reads "50%", "50 %" or "0.5" as 0.5; ok is false outside
// (0, 1].
func parseShare(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	percent := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil {
		return 0, false
	}
	if percent {
		f /= 100
	}
	return f, f > 0 && f <= 1
}
