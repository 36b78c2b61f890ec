package index

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// git runs the system git binary on the index's clones, isolated from
// every configuration but its own: no system or user configuration, no
// credential helper, no prompt, and only the http protocol (to the
// gateway, which is the only address git is ever given).
type git struct {
	path string // the git binary
	home string // an empty directory, git's HOME
}

// gitConfig are the settings every git run gets on its command line. They
// name no secret: git never holds one (see gateway).
var gitConfig = []string{
	"-c", "credential.helper=",
	"-c", "core.askPass=",
	"-c", "protocol.allow=never",
	"-c", "protocol.http.allow=always",
	"-c", "http.followRedirects=false",
	"-c", "http.proxy=",
	"-c", "fetch.writeCommitGraph=true",
}

// offline are the settings of every git run but clone and fetch (which
// are given the gateway's address): they read the clone only. A partial
// clone asks its remote for an object it lacks (an old tip a clone made
// after a force-push never had); no protocol is allowed, so git never
// reaches the repository's own address by itself, and the object is
// reported missing.
var offline = []string{"-c", "protocol.http.allow=never"}

func (g git) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	all := slicesClone(gitConfig)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + g.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"LC_ALL=C",
	}
	if args[0] != "clone" && args[0] != "fetch" {
		all = append(all, offline...)
		env = append(env, "GIT_NO_LAZY_FETCH=1")
	}
	cmd := exec.CommandContext(ctx, g.path, append(all, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// run runs git and returns its output; an error carries the first line of
// what git said.
func (g git) run(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := g.command(ctx, dir, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, left: 8 << 10}
	out, err := cmd.Output()
	if err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return out, &gitError{op: args[0], msg: msg, err: err}
	}
	return out, nil
}

type gitError struct {
	op, msg string
	err     error
}

func (e *gitError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("git %s: %v", e.op, e.err)
	}
	return fmt.Sprintf("git %s: %s", e.op, e.msg)
}

type limitedBuffer struct {
	buf  *bytes.Buffer
	left int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.left > 0 {
		n := min(len(p), b.left)
		b.buf.Write(p[:n])
		b.left -= n
	}
	return len(p), nil
}

// cloned reports whether dir holds a complete clone.
func cloned(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "HEAD"))
	return err == nil
}

// clone makes a bare, blob-less partial clone of url at dir: commits and
// trees only, blobs never fetched. It is made beside dir and renamed into
// place, so an interrupted clone leaves no half clone behind.
func (g git) clone(ctx context.Context, url, realURL, dir string) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if _, err := g.run(ctx, filepath.Dir(dir), nil, "clone", "--bare", "--filter=blob:none", "--no-tags", "--quiet", url, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	for _, kv := range [][2]string{
		{"remote.origin.fetch", "+refs/heads/*:refs/heads/*"},
		{"remote.origin.url", realURL},
		{"gc.autoDetach", "false"},
	} {
		if _, err := g.run(ctx, tmp, nil, "config", kv[0], kv[1]); err != nil {
			_ = os.RemoveAll(tmp)
			return err
		}
	}
	return os.Rename(tmp, dir)
}

// fetch brings the clone up to date from url (still blob-less: the clone
// remembers its filter), deleting branches the host deleted.
func (g git) fetch(ctx context.Context, url, realURL, dir string) error {
	if _, err := g.run(ctx, dir, nil, "config", "remote.origin.url", url); err != nil {
		return err
	}
	_, err := g.run(ctx, dir, nil, "fetch", "--prune", "--no-tags", "--quiet", "origin")
	// The clone keeps the repository's own address, not the run's.
	if _, cerr := g.run(context.WithoutCancel(ctx), dir, nil, "config", "remote.origin.url", realURL); err == nil {
		err = cerr
	}
	return err
}

// walked is one commit git log gave.
type walked struct {
	sha, authorName, authorEmail string
	at                           time.Time
	parents                      []string
	message                      string
}

// walk streams the commits reachable from the refs in from and from none
// of the shas in not (the previous tips: commits read before are not read
// again) to fn, every commit before its parents (git's topological
// order). not must hold only commits the clone has (present): a partial
// clone asks for a missing one, which fails, rather than ignoring it.
func (g git) walk(ctx context.Context, dir string, from []string, not []string, fn func(walked) error) error {
	if len(from) == 0 {
		return nil
	}
	var in bytes.Buffer
	for _, r := range from {
		in.WriteString(r + "\n")
	}
	for _, sha := range not {
		in.WriteString("^" + sha + "\n")
	}
	return g.stream(ctx, dir, &in, splitRecords, func(rec string) error {
		parts := strings.SplitN(rec, "\x00", 6)
		if len(parts) != 6 {
			return nil
		}
		secs, _ := strconv.ParseInt(parts[3], 10, 64)
		return fn(walked{sha: parts[0], authorName: parts[1], authorEmail: parts[2], at: time.Unix(secs, 0).UTC(),
			parents: strings.Fields(parts[4]), message: strings.TrimRight(parts[5], "\n")})
	}, "log", "--stdin", "--ignore-missing", "--topo-order", "--no-color", "--format=%x1e%H%x00%an%x00%ae%x00%ct%x00%P%x00%B")
}

// present keeps the shas whose commits are in the clone (a clone made
// after a branch was force-pushed or deleted lacks its old tip).
func (g git) present(ctx context.Context, dir string, shas []string) ([]string, error) {
	if len(shas) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, sha := range shas {
		in.WriteString(sha + "\n")
	}
	out, err := g.run(ctx, dir, &in, "cat-file", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return nil, err
	}
	var kept []string
	for line := range strings.SplitSeq(string(out), "\n") {
		if sha, kind, _ := strings.Cut(line, " "); kind == "commit" {
			kept = append(kept, sha)
		}
	}
	return kept, nil
}

// keyPattern finds the messages that may name an issue key (Keys decides):
// an upper-case word, a dash and a digit other than 0, as an extended
// regular expression for git log --grep.
const keyPattern = `(^|[^A-Za-z0-9_])[A-Z][A-Z0-9_]*-[1-9]`

// sides streams the commits that may name an issue key reachable from old
// and not from new (left) or from new and not from old (right), with
// their messages: what a branch moved from old to new lost and gained.
func (g git) sides(ctx context.Context, dir, old, new string, fn func(left bool, sha, message string) error) error {
	return g.stream(ctx, dir, nil, splitRecords, func(rec string) error {
		side, rest := rec[:1], rec[1:]
		sha, message, ok := strings.Cut(rest, "\x00")
		if !ok {
			return nil
		}
		return fn(side == "<", sha, message)
	}, "log", "--left-right", "--no-color", "--extended-regexp", "--grep="+keyPattern, "--format=%x1e%m%H%x00%B", old+"..."+new, "--")
}

// parentsOf streams the commits reachable from tips, every commit before
// its parents (git's topological order), with their parents; fn returns
// false to stop early.
func (g git) parentsOf(ctx context.Context, dir string, tips []string, fn func(sha string, parents []string) bool) error {
	if len(tips) == 0 {
		return nil
	}
	var in bytes.Buffer
	for _, t := range tips {
		in.WriteString(t + "\n")
	}
	errStop := errors.New("stop")
	err := g.stream(ctx, dir, &in, bufio.ScanLines, func(line string) error {
		sha, parents, _ := strings.Cut(line, " ")
		if !fn(sha, strings.Fields(parents)) {
			return errStop
		}
		return nil
	}, "rev-list", "--stdin", "--ignore-missing", "--topo-order", "--parents")
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// commitGraph writes the clone's commit-graph when it has none, so that
// walks of the whole history read parents from it rather than from every
// commit object (fetches then keep it up to date: fetch.writeCommitGraph;
// a first clone has none).
func (g git) commitGraph(ctx context.Context, dir string) error {
	for _, name := range []string{"commit-graph", "commit-graphs"} {
		if _, err := os.Stat(filepath.Join(dir, "objects", "info", name)); err == nil {
			return nil
		}
	}
	_, err := g.run(ctx, dir, nil, "commit-graph", "write", "--reachable", "--split", "--no-progress")
	return err
}

// stream runs git with stdin and streams its output, split by split, to
// fn; an error of fn stops git and is returned.
func (g git) stream(ctx context.Context, dir string, stdin io.Reader, split bufio.SplitFunc, fn func(string) error, args ...string) error {
	cmd := g.command(ctx, dir, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, left: 8 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sc.Split(split)
	var ferr error
	for sc.Scan() {
		if rec := sc.Text(); rec != "" {
			if ferr = fn(rec); ferr != nil {
				break
			}
		}
	}
	if ferr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return ferr
	}
	serr := sc.Err()
	if err := cmd.Wait(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return &gitError{op: args[0], msg: msg, err: err}
	}
	return serr
}

// splitRecords splits git log's output at the record separator (0x1e).
func splitRecords(data []byte, atEOF bool) (int, []byte, error) {
	start := 0
	if len(data) > 0 && data[0] == 0x1e {
		start = 1
	}
	if i := bytes.IndexByte(data[start:], 0x1e); i >= 0 {
		return start + i, data[start : start+i], nil
	}
	if atEOF && len(data) > start {
		return len(data), data[start:], nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return 0, nil, nil
}

// tipCommit is the last commit of a branch, as the panel shows it.
type tipCommit struct {
	message, author string
	at              time.Time
}

// tips reads the commits at shas (first line, author, date).
func (g git) tips(ctx context.Context, dir string, shas []string) (map[string]tipCommit, error) {
	out := map[string]tipCommit{}
	if len(shas) == 0 {
		return out, nil
	}
	var in bytes.Buffer
	for _, s := range shas {
		in.WriteString(s + "\n")
	}
	b, err := g.run(ctx, dir, &in, "log", "--stdin", "--no-walk=unsorted", "--ignore-missing", "--no-color", "--format=%H%x00%an%x00%ct%x00%s")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, "\x00", 4)
		if len(parts) != 4 {
			continue
		}
		secs, _ := strconv.ParseInt(parts[2], 10, 64)
		out[parts[0]] = tipCommit{message: parts[3], author: parts[1], at: time.Unix(secs, 0).UTC()}
	}
	return out, nil
}

// diskUsage is the size of the files under dir.
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
