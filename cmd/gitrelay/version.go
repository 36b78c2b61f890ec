package main

import (
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=..." (see
// scripts/build); without it, the build information Go records tells.
var version = "dev"

// versionLine is what `gitrelay version` prints: the version set at build
// time, else the module's version (v1.2.3 for `go install ...@v1.2.3`,
// "(devel)" for a build from a checkout), then the commit and its time when
// the build recorded them.
func versionLine(set string, info *debug.BuildInfo) string {
	v := resolveVersion(set, info)
	var vcs []string
	if info != nil {
		s := map[string]string{}
		for _, kv := range info.Settings {
			s[kv.Key] = kv.Value
		}
		if r := s["vcs.revision"]; r != "" {
			if s["vcs.modified"] == "true" {
				r += " (modified)"
			}
			vcs = append(vcs, "revision "+r)
		}
		if t := s["vcs.time"]; t != "" {
			vcs = append(vcs, "committed "+t)
		}
		if info.GoVersion != "" {
			vcs = append(vcs, "built with "+info.GoVersion)
		}
	}
	if len(vcs) == 0 {
		return "gitrelay " + v
	}
	return "gitrelay " + v + " (" + strings.Join(vcs, ", ") + ")"
}

// buildVersion is this binary's version: set at build time, else the
// module's.
func buildVersion() string {
	info, _ := debug.ReadBuildInfo()
	return resolveVersion(version, info)
}

func resolveVersion(set string, info *debug.BuildInfo) string {
	if set == "dev" && info != nil && info.Main.Version != "" {
		return info.Main.Version
	}
	return set
}
