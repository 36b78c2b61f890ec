package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/logbuf"
)

// repoRoot is the module's root, where the Dockerfile and scripts are.
const repoRoot = "../.."

// dockerfile is what the test reads from the Dockerfile: the instructions
// of each stage, continuation lines joined.
type dockerfile struct {
	stages [][]instruction
}

type instruction struct{ cmd, args string }

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if line == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			d.stages = append(d.stages, nil)
		}
		if len(d.stages) == 0 {
			t.Fatalf("Dockerfile: %s before FROM", cmd)
		}
		d.stages[len(d.stages)-1] = append(d.stages[len(d.stages)-1], instruction{cmd, strings.TrimSpace(args)})
	}
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile: want a build stage and a runtime stage, have %d stages", len(d.stages))
	}
	return d
}

// all returns the arguments of every instruction cmd in stage.
func (d dockerfile) all(stage int, cmd string) []string {
	var out []string
	for _, in := range d.stages[stage] {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// vars reads KEY=VALUE pairs (ENV, ARG), dropping one level of quotes.
func vars(list []string) map[string]string {
	m := map[string]string{}
	for _, args := range list {
		for _, kv := range strings.Fields(args) {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}

func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("Dockerfile: %s %s is not in exec form (a JSON array): %v", what, args, err)
	}
	return argv
}

// The image is built by the Dockerfile's own commands: this test runs the
// build stage's scripts/build lines as they are written, then starts the
// binary the way the image does (its ENTRYPOINT, CMD and ENV; only the
// port is a free one) and runs its HEALTHCHECK against it.
func TestContainerImageBuildsRunsAndPassesItsHealthCheck(t *testing.T) {
	d := readDockerfile(t)
	build, final := 0, len(d.stages)-1
	const out = "/out/"
	tmp := t.TempDir()

	// The build stage: every RUN line that calls scripts/build, with its
	// output directory moved here.
	args := vars(d.all(build, "ARG"))
	ran := 0
	for _, run := range d.all(build, "RUN") {
		if !strings.Contains(run, "scripts/build") {
			continue
		}
		if !strings.Contains(run, out) {
			t.Fatalf("Dockerfile: RUN %s does not build into %s", run, out)
		}
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(run, out, tmp+"/"))
		cmd.Dir = repoRoot
		cmd.Env = os.Environ()
		for k, v := range args {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("RUN %s: %v\n%s", run, err, b)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("Dockerfile: no RUN line calls scripts/build")
	}

	// The runtime stage copies that binary; map its path in the image to
	// the one built here.
	binaries := map[string]string{}
	for _, c := range d.all(final, "COPY") {
		f := strings.Fields(c)
		if len(f) >= 3 && strings.HasPrefix(f[0], "--from=") && strings.HasPrefix(f[len(f)-2], out) {
			binaries[f[len(f)-1]] = filepath.Join(tmp, strings.TrimPrefix(f[len(f)-2], out))
		}
	}
	local := func(argv []string) []string {
		b, ok := binaries[argv[0]]
		if !ok {
			t.Fatalf("Dockerfile: %s is not a binary the build stage made (%v)", argv[0], binaries)
		}
		return append([]string{b}, argv[1:]...)
	}

	// What the image promises: non-root, 0.0.0.0:8080, the data directory
	// a volume.
	env := vars(d.all(final, "ENV"))
	if user := d.all(final, "USER"); len(user) != 1 || strings.HasPrefix(user[0], "0") || strings.HasPrefix(user[0], "root") {
		t.Fatalf("Dockerfile: USER %v; want one non-root user", user)
	}
	if env["GITRELAY_ADDR"] != "0.0.0.0:8080" || !slices.Contains(d.all(final, "EXPOSE"), "8080") {
		t.Fatalf("Dockerfile: GITRELAY_ADDR=%q, EXPOSE %v; want 0.0.0.0:8080 and 8080", env["GITRELAY_ADDR"], d.all(final, "EXPOSE"))
	}
	if env["GITRELAY_DATA"] == "" || !slices.Contains(d.all(final, "VOLUME"), env["GITRELAY_DATA"]) {
		t.Fatalf("Dockerfile: GITRELAY_DATA=%q is not a VOLUME (%v)", env["GITRELAY_DATA"], d.all(final, "VOLUME"))
	}
	// The index reads repositories with the system git: the image has it.
	if !slices.ContainsFunc(d.all(final, "RUN"), func(run string) bool {
		return strings.Contains(run, "apt-get install") && slices.Contains(strings.Fields(run), "git")
	}) {
		t.Fatalf("Dockerfile: the runtime stage does not install git (RUN %v); the index needs it", d.all(final, "RUN"))
	}
	entry := d.all(final, "ENTRYPOINT")
	cmdLine := d.all(final, "CMD")
	health := d.all(final, "HEALTHCHECK")
	if len(entry) != 1 || len(cmdLine) != 1 || len(health) != 1 {
		t.Fatalf("Dockerfile: want one ENTRYPOINT, CMD and HEALTHCHECK; have %v %v %v", entry, cmdLine, health)
	}
	_, healthArgs, ok := strings.Cut(health[0], "CMD ")
	if !ok {
		t.Fatalf("Dockerfile: HEALTHCHECK %s has no CMD", health[0])
	}
	serveArgv := local(append(execForm(t, "ENTRYPOINT", entry[0]), execForm(t, "CMD", cmdLine[0])...))
	healthArgv := local(execForm(t, "HEALTHCHECK CMD", healthArgs))

	// The image's environment, on a free port of every interface like the
	// image's, with the volume here.
	environ := func(addr string) []string {
		var e []string
		for k, v := range env {
			switch k {
			case "GITRELAY_ADDR":
				v = addr
			case "GITRELAY_DATA":
				v = filepath.Join(tmp, "data")
			}
			e = append(e, k+"="+v)
		}
		return e
	}
	srv := exec.Command(serveArgv[0], serveArgv[1:]...)
	srv.Env = environ("0.0.0.0:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = &logbuf.Buffer{}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- strings.TrimPrefix(m[1], "http://")
			}
		}
		exited <- srv.Wait()
	}()
	var listen string
	select {
	case listen = <-addr:
	case err := <-exited:
		t.Fatalf("the image's command exited: %v\n%s", err, srv.Stderr)
	case <-time.After(30 * time.Second):
		_ = srv.Process.Kill()
		t.Fatalf("the image's command did not start listening\n%s", srv.Stderr)
	}
	_, port, _ := net.SplitHostPort(listen)

	healthcheck := func() (string, error) {
		c := exec.Command(healthArgv[0], healthArgv[1:]...)
		c.Env = environ("0.0.0.0:" + port)
		b, err := c.CombinedOutput()
		return string(b), err
	}
	if out, err := healthcheck(); err != nil || !strings.Contains(out, "is ready") {
		t.Fatalf("HEALTHCHECK against the running server: %v\n%s", err, out)
	}
	for _, f := range []string{"gitrelay.db", "secret.key"} {
		if _, err := os.Stat(filepath.Join(tmp, "data", f)); err != nil {
			t.Errorf("the data volume has no %s: %v", f, err)
		}
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("the server did not stop cleanly on SIGTERM: %v\n%s", err, srv.Stderr)
	}
	if out, err := healthcheck(); err == nil || !strings.Contains(out, "does not answer") {
		t.Fatalf("HEALTHCHECK with the server stopped: %v\n%s", err, out)
	}

	// Without a version set at build time the binary reports what the
	// build recorded: the module version, and the commit when built from a
	// git checkout.
	b, err := exec.Command(serveArgv[0], "version").Output()
	if err != nil || strings.HasPrefix(string(b), "gitrelay dev") || !strings.Contains(string(b), "built with go") {
		t.Fatalf("version: %q, %v; want the module version from the build information", b, err)
	}
	if fi, err := os.Stat(filepath.Join(repoRoot, ".git")); err == nil && fi.IsDir() {
		head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "revision "+strings.TrimSpace(string(head))) {
			t.Fatalf("version: %q; want the revision %s of this checkout", b, head)
		}
	}
}

func TestHealthcheckTargetsTheLocalServer(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{":8080", "127.0.0.1:8080"},
		{"[::]:8080", "[::1]:8080"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"gitrelay.internal:8080", "gitrelay.internal:8080"},
	}
	for _, tt := range tests {
		if got, err := localTarget(tt.listen); err != nil || got != tt.want {
			t.Errorf("localTarget(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
	if _, err := localTarget("8080"); err == nil {
		t.Error("an address without a port was accepted")
	}
}

// scripts/release builds an archive per target with the binary, LICENSE,
// README.md and CHANGELOG.md, and SHA256SUMS over them. It runs here for
// this machine's target, whose build the other tests have cached.
func TestReleaseArchivesAndChecksums(t *testing.T) {
	target := runtime.GOOS + "/" + runtime.GOARCH
	if !slices.Contains([]string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}, target) {
		t.Fatalf("releases are built for linux and darwin on amd64 and arm64, not %s", target)
	}
	dir := t.TempDir()
	cmd := exec.Command("scripts/release", dir, target)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GITRELAY_VERSION=v9.8.7-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, b)
	}
	name := "gitrelay_v9.8.7-test_" + runtime.GOOS + "_" + runtime.GOARCH
	entries, _ := os.ReadDir(dir)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if want := []string{"SHA256SUMS", name + ".tar.gz"}; !slices.Equal(files, want) {
		t.Fatalf("release directory has %v, want %v", files, want)
	}

	archive, err := os.ReadFile(filepath.Join(dir, name+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	sum := sha256.Sum256(archive)
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Fatalf("SHA256SUMS = %q, want %q", sums, want)
	}

	zr, err := gzip.NewReader(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]int64{}
	bin := filepath.Join(t.TempDir(), "gitrelay")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
		got[h.Name] = h.Mode
		if h.Name == name+"/gitrelay" {
			f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	want := map[string]int64{name + "/": 0o755, name + "/gitrelay": 0o755, name + "/LICENSE": 0o644, name + "/README.md": 0o644, name + "/CHANGELOG.md": 0o644}
	for n, mode := range want {
		if m, ok := got[n]; !ok || m&0o777 != mode {
			t.Errorf("archive: %s has mode %o (present %v), want %o", n, m&0o777, ok, mode)
		}
	}
	if len(got) != len(want) {
		t.Errorf("archive holds %v, want %v", got, want)
	}
	b, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(b), "gitrelay v9.8.7-test") {
		t.Fatalf("the archived binary's version: %q, %v", b, err)
	}
}

func TestReleaseRefusesAnUnsupportedTarget(t *testing.T) {
	cmd := exec.Command("scripts/release", t.TempDir(), "windows/386")
	cmd.Dir = repoRoot
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "unsupported target windows/386 (linux or darwin, amd64 or arm64)") {
		t.Fatalf("got %v\n%s", err, b)
	}
}
