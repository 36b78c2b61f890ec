package host_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// fakeResolver answers host name lookups from a script: each lookup of a
// name takes the next answer (the last one repeats), as a DNS server an
// attacker controls would.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	lookups map[string]int
}

func newResolver(answers map[string][]string) *fakeResolver {
	return &fakeResolver{answers: answers, lookups: map[string]int{}}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, name string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	i := min(r.lookups[name], len(seq)-1)
	r.lookups[name]++
	var out []netip.Addr
	for _, a := range strings.Split(seq[i], ",") {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// countingServer is a local server that counts the connections it
// accepts, to prove a refused request never connected.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func notAllowed(t *testing.T, err error) *host.NotAllowedError {
	t.Helper()
	var na *host.NotAllowedError
	if !errors.As(err, &na) {
		t.Fatalf("err = %v, want a *host.NotAllowedError in its chain", err)
	}
	return na
}

func TestEgressPolicyClassifiesAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr        string
		always      string // class refused in every mode, or ""
		jiraRefuses bool   // refused in Jira mode (private ranges)
	}{
		{"0.0.0.0", "unspecified", true},
		{"0.1.2.3", "unspecified", true},
		{"::", "unspecified", true},
		{"127.0.0.1", "loopback", true},
		{"127.255.0.9", "loopback", true},
		{"::1", "loopback", true},
		{"::ffff:127.0.0.1", "loopback", true},
		{"169.254.169.254", "link-local", true},
		{"::ffff:169.254.169.254", "link-local", true},
		{"fe80::1", "link-local", true},
		{"224.0.0.1", "multicast", true},
		{"239.1.2.3", "multicast", true},
		{"ff02::1", "multicast", true},
		{"10.1.2.3", "", true},
		{"172.16.0.1", "", true},
		{"172.31.255.255", "", true},
		{"192.168.1.1", "", true},
		{"100.64.0.1", "", true},
		{"::ffff:10.0.0.1", "", true},
		{"fd00::1", "", true},
		{"fc00::1", "", true},
		{"140.82.112.3", "", false},
		{"172.32.0.1", "", false},
		{"2606:50c0:8000::153", "", false},
		// IPv6 addresses that reach IPv4 ones through a gateway are
		// refused as those would be.
		{"64:ff9b::7f00:1", "loopback (NAT64)", true},
		{"64:ff9b::a9fe:a9fe", "link-local (NAT64)", true},
		{"64:ff9b::a00:1", "", true},
		{"64:ff9b::8c52:7003", "", false},
		{"2002:7f00:1::1", "loopback (6to4)", true},
		{"2002:a9fe:a9fe::", "link-local (6to4)", true},
		{"2002:c0a8:101::1", "", true},
		{"2002:8c52:7003::1", "", false},
		{"::7f00:1", "loopback (IPv4-compatible)", true},
		{"::a9fe:a9fe", "link-local (IPv4-compatible)", true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.addr)
			err := (&host.Egress{}).Check(tc.addr, ip)
			switch {
			case tc.always == "" && err != nil:
				t.Errorf("default policy refused %s: %v", tc.addr, err)
			case tc.always != "" && (err == nil || notAllowed(t, err).Class != tc.always):
				t.Errorf("default policy: %s → %v, want refused as %s", tc.addr, err, tc.always)
			}
			err = (&host.Egress{RefusePrivate: true}).Check(tc.addr, ip)
			if (err != nil) != tc.jiraRefuses {
				t.Errorf("Jira mode: %s → %v, want refused %v", tc.addr, err, tc.jiraRefuses)
			}
			if tc.always == "" && tc.jiraRefuses {
				if class := notAllowed(t, err).Class; class != "private" && !strings.HasPrefix(class, "private (") {
					t.Errorf("Jira mode: %s refused as %q, want private", tc.addr, class)
				}
			}

			if err == nil {
				return
			}
			if got := notAllowed(t, err).Addr; got != ip.Unmap() {
				t.Errorf("refused address %s, want the unmapped %s", got, ip.Unmap())
			}
			wide := host.Egress{RefusePrivate: true, Allow: host.MustAllowlist("0.0.0.0/0,::/0")}
			if err := wide.Check(tc.addr, ip); err != nil {
				t.Errorf("an allow list of everything still refused %s: %v", tc.addr, err)
			}
		})
	}
}

// The check runs when connecting, on the address connected to: a URL
// naming a refused address, in any of its spellings, is refused before a
// byte is sent, and answers host_not_allowed naming the class and the
// setting that widens the policy.
func TestRefusedAtDialTimeBeforeAnyByte(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a refused request reached the server")
	}))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	c := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second})
	for _, tc := range []struct{ hostPart, class string }{
		{"127.0.0.1", "loopback"},
		{"[::ffff:127.0.0.1]", "loopback"},
		{"[::ffff:7f00:1]", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"169.254.169.254", "link-local"},
		{"[::ffff:169.254.169.254]", "link-local"},
		{"[fe80::1%25lo]", "link-local"},
		{"224.0.0.1", "multicast"},
	} {
		t.Run(tc.hostPart, func(t *testing.T) {
			_, err := c.Get(fmt.Sprintf("http://%s:%d/api/v3/user", tc.hostPart, port))
			if na := notAllowed(t, err); na.Class != tc.class {
				t.Errorf("refused as %q, want %q", na.Class, tc.class)
			}
			e := host.TransportError("GitHub Enterprise", err, time.Millisecond)
			if e.Code != relay.EHostNotAllowed || !strings.Contains(e.Message, tc.class+" address") ||
				!strings.Contains(e.Message, "--egress-allow") || !strings.Contains(e.Message, "GITRELAY_EGRESS_ALLOW") {
				t.Errorf("TransportError = %s %q, want host_not_allowed naming the class and the setting", e.Code, e.Message)
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the server accepted %d connections, want none", n)
	}
}

// In Jira mode, tenant administrators are not the operator: private
// ranges are refused too, without even trying to connect.
func TestJiraModeRefusesPrivateRanges(t *testing.T) {
	jira := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second, Egress: host.Egress{RefusePrivate: true}})
	for _, target := range []string{"10.0.0.1", "172.16.5.4", "192.168.0.10", "100.64.1.1", "[fd12::1]", "[::ffff:10.0.0.1]"} {
		_, err := jira.Get("http://" + target + ":1/")
		if na := notAllowed(t, err); na.Class != "private" {
			t.Errorf("%s refused as %q, want private", target, na.Class)
		}
	}
	// The operator can allow an internal range.
	allowed := host.Egress{RefusePrivate: true, Allow: host.MustAllowlist("10.0.0.0/8")}
	if err := allowed.Check("gitlab.corp.example", netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Errorf("10.0.0.1 refused although allowed: %v", err)
	}
}

// A host name is resolved when connecting and every connection checks the
// address it goes to: a name that first resolved to an allowed address and
// then to a refused one (DNS rebinding) is refused, also on a redirect hop
// within the same origin.
func TestDNSRebindingIsRefused(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // each request dials again
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	// 127.0.0.1 stands for an allowed address; 127.0.0.2 is a loopback
	// address the operator did not allow.
	res := newResolver(map[string][]string{
		"rebind.example": {"127.0.0.1", "127.0.0.2"},
		"hop.example":    {"127.0.0.1", "127.0.0.2"},
	})
	c := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second,
		Egress: host.Egress{Allow: host.MustAllowlist("127.0.0.1/32"), Resolver: res}})

	resp, err := c.Get(fmt.Sprintf("http://rebind.example:%d/", port))
	if err != nil {
		t.Fatalf("first request (allowed address): %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = c.Get(fmt.Sprintf("http://rebind.example:%d/", port))
	if na := notAllowed(t, err); na.Addr != netip.MustParseAddr("127.0.0.2") || na.Host != "rebind.example" {
		t.Errorf("second request refused for %+v, want rebind.example at 127.0.0.2", na)
	}
	if e := host.TransportError("Gitea at rebind.example", err, 0); !strings.Contains(e.Message, "rebind.example resolves to a loopback address") || strings.Contains(e.Message, "127.0.0.2") {
		t.Errorf("message %q does not say the name resolves to a loopback address, or names the address", e.Message)
	}

	_, err = c.Get(fmt.Sprintf("http://hop.example:%d/moved", port))
	notAllowed(t, err)
	if res.lookups["hop.example"] != 2 {
		t.Errorf("hop.example looked up %d times, want once per connection (2)", res.lookups["hop.example"])
	}
}

// A redirect to a refused address is refused at dial time even by a client
// whose redirect policy follows every redirect.
func TestRedirectToRefusedAddress(t *testing.T) {
	target, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	targetPort := target.Listener.Addr().(*net.TCPAddr).Port
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.2:%d/latest/meta-data/", targetPort), http.StatusFound)
	}))
	base := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second, Egress: host.Egress{Allow: host.MustAllowlist("127.0.0.1/32")}})
	base.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	_, err := host.ClientFor(base, nil).Get(srv.URL + "/")
	if na := notAllowed(t, err); na.Addr != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("refused %s, want the redirect's target 127.0.0.2", na.Addr)
	}
	if conns.Load() != 0 {
		t.Error("the redirect's target was connected to")
	}
}

// The operator widens the policy by address range or by host name; a host
// name entry allows that name whatever it resolves to, and only that name.
func TestAllowListByCIDRAndHostName(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := newResolver(map[string][]string{"gitlab.corp.example": {"127.0.0.1"}, "other.corp.example": {"127.0.0.1"}})
	get := func(allow, target string) error {
		c := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second,
			Egress: host.Egress{RefusePrivate: true, Allow: host.MustAllowlist(allow), Resolver: res}})
		resp, err := c.Get(fmt.Sprintf("http://%s:%d/", target, port))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, tc := range []struct {
		name, allow, target string
		allowed             bool
	}{
		{"CIDR allows the address", "127.0.0.0/8", "127.0.0.1", true},
		{"CIDR allows a name resolving into it", "127.0.0.0/8", "gitlab.corp.example", true},
		{"single address", "127.0.0.1", "127.0.0.1", true},
		{"IPv4-mapped CIDR is the IPv4 range", "::ffff:127.0.0.0/104", "127.0.0.1", true},
		{"host name allows that name", " GitLab.corp.example. ", "gitlab.corp.example", true},
		{"host name does not allow another name", "gitlab.corp.example", "other.corp.example", false},
		{"host name does not allow the address", "gitlab.corp.example", "127.0.0.1", false},
		{"another range does not allow", "10.0.0.0/8", "127.0.0.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := get(tc.allow, tc.target)
			if tc.allowed && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.allowed {
				notAllowed(t, err)
			}
		})
	}
}

func TestParseAllowlistSaysWhatIsWrong(t *testing.T) {
	a, err := host.ParseAllowlist(" 127.0.0.0/8, ,10.1.2.3,fd00::/8,gitlab.corp.example ")
	if err != nil || a.String() != "127.0.0.0/8,10.1.2.3/32,fd00::/8,gitlab.corp.example" {
		t.Errorf("ParseAllowlist = %q, %v", a, err)
	}
	if a, err := host.ParseAllowlist(""); err != nil || !a.Empty() {
		t.Errorf("empty list = %q, %v", a, err)
	}
	for _, bad := range []string{"127.0.0.1/33", "https://gitlab.corp.example", "gitlab.corp.example:443", "10.0.0.0/8;", "bad name", "-x.example"} {
		_, err := host.ParseAllowlist("10.0.0.0/8," + bad)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", strings.TrimSpace(bad))) || !strings.Contains(err.Error(), "CIDR") {
			t.Errorf("ParseAllowlist(%q) = %v, want an error naming the entry and the expected forms", bad, err)
		}
	}
}

// Through the operator's proxy, gitrelay connects to the proxy only, and
// still refuses a target it can tell is refused.
func TestProxyTargetsAreChecked(t *testing.T) {
	var proxied atomic.Int64
	proxy, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		fmt.Fprint(w, "via proxy")
	}))
	proxyURL, _ := url.Parse(proxy.URL)
	res := newResolver(map[string][]string{"git.example.com": {"140.82.112.3"}, "meta.example.com": {"169.254.169.254"}})
	c := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second, Egress: host.Egress{
		Resolver: res, Proxy: func(*http.Request) (*url.URL, error) { return proxyURL, nil }}})
	resp, err := c.Get("http://git.example.com/")
	if err != nil {
		t.Fatalf("through the proxy (on loopback, the operator's choice): %v", err)
	}
	resp.Body.Close()
	for _, target := range []string{"http://169.254.169.254/latest/", "http://meta.example.com/"} {
		_, err := c.Get(target)
		notAllowed(t, err)
	}
	if proxied.Load() != 1 {
		t.Errorf("the proxy saw %d requests, want 1", proxied.Load())
	}
}

// Every answer is read up to the cap, then the read fails: a host that
// answers without end costs bounded memory.
func TestAnswersAreCapped(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 1 << 10 { // 64 MiB at most
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	c := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second, MaxBody: 1 << 20, Egress: host.Egress{Allow: host.MustAllowlist("127.0.0.1")}})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var tooLarge *host.BodyTooLargeError
	if !errors.As(err, &tooLarge) || n != 1<<20 {
		t.Fatalf("read %d bytes, err %v; want 1 MiB then a BodyTooLargeError", n, err)
	}
	if e := host.TransportError("Gitea at git.example.com", err, 0); e.Code != relay.EHostError || !strings.Contains(e.Message, "answer exceeded 1 MiB") {
		t.Errorf("TransportError = %s %q, want host_error saying the answer exceeded 1 MiB", e.Code, e.Message)
	}

	// A call may choose its own cap.
	req, _ := http.NewRequestWithContext(host.WithBodyLimit(context.Background(), 10<<10), http.MethodGet, srv.URL, nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !errors.As(err, &tooLarge) || n != 10<<10 || tooLarge.Limit != 10<<10 {
		t.Fatalf("per-call cap: read %d bytes, err %v; want 10 KiB then a BodyTooLargeError", n, err)
	}

	// An answer exactly at the cap is whole.
	exact, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("y", 1<<20)))
	}))
	resp, err = c.Get(exact.URL)
	if err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 1<<20 {
		t.Errorf("an answer of exactly the cap: %d bytes, %v", n, err)
	}
}

// The credential goes to its own origin only: not to another origin the
// client is asked to call, not after a redirect to another origin (even
// with a redirect policy that follows it), and a copy of the header set by
// a library is removed before the request leaves for elsewhere.
func TestCredentialStaysOnItsOrigin(t *testing.T) {
	const secret = "Bearer ghp_CANARYcredential"
	var leaked atomic.Int64
	other, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
	}))
	var seen atomic.Value
	origin, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
		}
	}))
	base := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second, Egress: host.Egress{Allow: host.MustAllowlist("127.0.0.0/8")}})
	follows := *base
	follows.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	c := host.ClientFor(&follows, &host.Auth{Origin: origin.URL, Header: "Authorization", Value: host.NewSecret(secret)})

	resp, err := c.Get(origin.URL + "/user")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen.Load() != secret {
		t.Errorf("the origin got Authorization %q, want the credential", seen.Load())
	}
	if resp, err = c.Get(origin.URL + "/away"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/landed" {
		t.Fatalf("the redirect was not followed (%s); the test proves nothing", resp.Request.URL)
	}
	req, _ := http.NewRequest(http.MethodGet, other.URL+"/direct", nil)
	req.Header.Set("Authorization", secret) // as a library would
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if leaked.Load() != 0 {
		t.Errorf("another origin received the credential %d times", leaked.Load())
	}
	if base.CheckRedirect == nil || follows.Transport != base.Transport {
		t.Error("ClientFor modified the client it was given")
	}
	// With the default policy, redirects to another origin are not even
	// followed.
	strict := host.ClientFor(base, &host.Auth{Origin: origin.URL, Header: "Authorization", Value: host.NewSecret(secret)})
	if _, err := strict.Get(origin.URL + "/away"); !errors.Is(err, host.ErrRedirectRefused) {
		t.Errorf("cross-origin redirect: %v, want ErrRedirectRefused", err)
	}
}

// What a client writes to its host (a webhook's secret in a body) goes to
// the credential's origin only: a write redirected elsewhere is not sent
// there, even by a client whose redirect policy follows anything.
func TestAWriteIsNotSentToAnotherOrigin(t *testing.T) {
	const secret = "whsec-CANARYhookSECRET"
	var leaked atomic.Int64
	other, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); strings.Contains(string(b), secret) || r.Method != http.MethodGet {
			leaked.Add(1)
		}
	}))
	origin, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/hooks", http.StatusTemporaryRedirect) // 307 sends the body again
	}))
	base := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second, Egress: host.Egress{Allow: host.MustAllowlist("127.0.0.0/8")}})
	follows := *base
	follows.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	for name, hc := range map[string]*http.Client{"the default policy": base, "a policy that follows anything": &follows} {
		c := host.ClientFor(hc, &host.Auth{Origin: origin.URL, Header: "Authorization", Value: host.NewSecret("Bearer t")})
		_, err := c.Post(origin.URL+"/repos/o/r/hooks", "application/json", strings.NewReader(`{"config":{"secret":"`+secret+`"}}`))
		if !errors.Is(err, host.ErrRedirectRefused) {
			t.Errorf("%s: a write redirected to another origin: %v, want ErrRedirectRefused", name, err)
		}
	}
	if leaked.Load() != 0 {
		t.Errorf("another origin received the write %d times", leaked.Load())
	}
}

// A name with addresses of both families connects through whichever
// answers: an IPv6 address that refuses does not fail the request.
func TestDualStackFallsBackToTheOtherFamily(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	port := srv.Listener.Addr().(*net.TCPAddr).Port // listening on 127.0.0.1 only
	for _, order := range []string{"::1,127.0.0.1", "127.0.0.1,::1"} {
		res := newResolver(map[string][]string{"dual.example": {order}})
		c := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second,
			Egress: host.Egress{Allow: host.MustAllowlist("127.0.0.0/8,::1"), Resolver: res}})
		resp, err := c.Get(fmt.Sprintf("http://dual.example:%d/", port))
		if err != nil {
			t.Errorf("addresses %s: %v", order, err)
			continue
		}
		resp.Body.Close()
	}
}
