package host

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// EgressSetting names the operator's setting that widens the egress
// policy, for messages.
const EgressSetting = "--egress-allow (GITRELAY_EGRESS_ALLOW)"

// Egress is the policy for every outbound connection gitrelay makes (git
// hosts, Jira, Atlassian's keys and OAuth endpoints). Whoever configures an
// integration chooses where gitrelay connects, so gitrelay refuses
// addresses that reach the server's own machine or its cloud's metadata
// service, whatever the address was typed as:
//   - always: unspecified (0.0.0.0/8, ::), loopback (127.0.0.0/8, ::1),
//     link-local (169.254.0.0/16, fe80::/10, cloud metadata services) and
//     multicast addresses;
//   - with RefusePrivate (Jira mode, where tenant administrators are not
//     the operator): private ranges too (10.0.0.0/8, 172.16.0.0/12,
//     192.168.0.0/16, 100.64.0.0/10, fc00::/7).
//
// The check runs when connecting, on each address the host name resolved
// to (so a name that resolves to a refused address on the second lookup,
// or a redirect to one, is refused too), and the connection is made to the
// address checked. IPv4-mapped IPv6 addresses are checked as the IPv4
// address they are. Allow widens the policy.
type Egress struct {
	RefusePrivate bool
	Allow         Allowlist
	// Resolver resolves host names; nil means net.DefaultResolver. Tests
	// inject one to control what a name resolves to.
	Resolver Resolver
	// Proxy picks the proxy of a request; nil means
	// http.ProxyFromEnvironment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
}

// Resolver resolves host names to addresses (net.Resolver implements it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Allowlist is the operator's widening of the egress policy: address
// ranges, and host names allowed whatever they resolve to.
type Allowlist struct {
	nets  []netip.Prefix
	names []string
}

// ParseAllowlist reads a comma-separated list of CIDRs (127.0.0.0/8,
// fd00::/8), single addresses (10.1.2.3) and host names
// (gitlab.corp.example). Spaces around entries and empty entries are
// ignored. The error says which entry is wrong and what is expected.
func ParseAllowlist(s string) (Allowlist, error) {
	var a Allowlist
	for raw := range strings.SplitSeq(s, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		bad := fmt.Errorf("egress allow list: %q is neither a CIDR (10.0.0.0/8, fd00::/8), an address (10.1.2.3) nor a host name (gitlab.corp.example); write entries without scheme, port or path", entry)
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return Allowlist{}, bad
			}
			a.nets = append(a.nets, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(entry, "[]")); err == nil {
			ip = ip.Unmap()
			a.nets = append(a.nets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		name := strings.TrimSuffix(strings.ToLower(entry), ".")
		if !validHostName(name) {
			return Allowlist{}, bad
		}
		a.names = append(a.names, name)
	}
	return a, nil
}

// MustAllowlist is ParseAllowlist for constant lists (tests); it panics on
// an error.
func MustAllowlist(s string) Allowlist {
	a, err := ParseAllowlist(s)
	if err != nil {
		panic(err)
	}
	return a
}

// unmappedBits is p's prefix length once an IPv4-mapped address is
// unmapped (::ffff:127.0.0.0/104 is 127.0.0.0/8).
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// String is the list in the form ParseAllowlist reads.
func (a Allowlist) String() string {
	var parts []string
	for _, p := range a.nets {
		parts = append(parts, p.String())
	}
	return strings.Join(append(parts, a.names...), ",")
}

// Empty is true when the list allows nothing beyond the default policy.
func (a Allowlist) Empty() bool { return len(a.nets) == 0 && len(a.names) == 0 }

// With returns the list with b's entries added.
func (a Allowlist) With(b Allowlist) Allowlist {
	return Allowlist{nets: append(append([]netip.Prefix(nil), a.nets...), b.nets...), names: append(append([]string(nil), a.names...), b.names...)}
}

func (a Allowlist) allowsName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, n := range a.names {
		if n == name {
			return true
		}
	}
	return false
}

func (a Allowlist) allowsAddr(ip netip.Addr) bool {
	for _, p := range a.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// NotAllowedError is a connection the egress policy refused; it is in the
// chain of the transport error, and TransportError turns it into
// relay.EHostNotAllowed.
type NotAllowedError struct {
	Host  string     // the host name or address of the request
	Addr  netip.Addr // the refused address (unmapped)
	Class string     // "loopback", "link-local", "private"...
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("egress to %s refused: %s address %s (widen with %s)", e.Host, e.Class, e.Addr, EgressSetting)
}

// what says what the refused address is, for messages: "127.0.0.1 is a
// loopback address", "git.example resolves to a link-local address". The
// address a name resolves to is left out: whoever configures an
// integration (in Jira mode a tenant administrator, not the operator)
// must not learn from gitrelay how the server's network resolves names.
func (e *NotAllowedError) what() string {
	if ip, err := netip.ParseAddr(strings.Trim(e.Host, "[]")); err == nil && ip.Unmap() == e.Addr {
		return fmt.Sprintf("%s is a %s address", e.Host, e.Class)
	}
	return fmt.Sprintf("%s resolves to a %s address", e.Host, e.Class)
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
	v4Compat    = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 is the IPv4 address an IPv6 address reaches through a
// translator or relay, and how: the well-known NAT64 prefix (RFC 6052),
// 6to4 (RFC 3056), or an IPv4-compatible address (RFC 4291, deprecated);
// "" when it carries none. On a network with such a gateway, connecting to
// the IPv6 address connects to the IPv4 one.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string) {
	if !ip.Is6() || ip.Is4In6() || ip.IsUnspecified() || ip.IsLoopback() {
		return netip.Addr{}, ""
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64"
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4"
	case v4Compat.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "IPv4-compatible"
	}
	return netip.Addr{}, ""
}

// refusedClass is the class of ip the policy refuses, or "" when ip may be
// connected to. ip is unmapped. An IPv6 address that reaches an IPv4 one
// (embeddedIPv4) is refused as that address would be, unless the allow
// list names the IPv6 address itself.
func (p *Egress) refusedClass(ip netip.Addr) string {
	if p.Allow.allowsAddr(ip) {
		return ""
	}
	if v4, via := embeddedIPv4(ip); via != "" {
		if class := p.refusedClass(v4); class != "" {
			return class + " (" + via + ")"
		}
	}
	switch {
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case p.RefusePrivate && (ip.IsPrivate() || sharedCGNAT.Contains(ip)):
		return "private"
	}
	return ""
}

// Check says whether a connection to ip (the target host) is allowed:
// nil, or a *NotAllowedError.
func (p *Egress) Check(hostName string, ip netip.Addr) error {
	ip = ip.Unmap()
	if class := p.refusedClass(ip); class != "" {
		return &NotAllowedError{Host: hostName, Addr: ip, Class: class}
	}
	return nil
}

func (p *Egress) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// guard is the egress policy at work in one transport: it dials only
// checked addresses, and remembers the proxies the transport uses.
type guard struct {
	policy  Egress
	dialer  *net.Dialer
	proxies sync.Map // "host:port" of each proxy in use → struct{}
}

// dial is the transport's DialContext: it resolves addr's host, checks
// every address it resolves to, and connects to an allowed one. A host
// name on the allow list is connected to whatever it resolves to. The
// operator's proxy (chosen from the environment) is connected to as it is.
func (g *guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := g.proxies.Load(addr); ok {
		return g.dialer.DialContext(ctx, network, addr)
	}
	hostName, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.lookup(ctx, network, hostName)
	if err != nil {
		return nil, err
	}
	nameAllowed := g.policy.Allow.allowsName(hostName)
	var refused error
	var allowed []netip.Addr
	for _, ip := range ips {
		if err := g.policy.Check(hostName, ip); err != nil && !nameAllowed {
			refused = cmpErr(refused, err)
			continue
		}
		allowed = append(allowed, ip.Unmap())
	}
	switch {
	case len(allowed) > 0:
		return g.dialAddrs(ctx, network, port, allowed)
	case refused != nil:
		return nil, &net.OpError{Op: "dial", Net: network, Err: refused}
	}
	return nil, &net.DNSError{Err: "no addresses", Name: hostName, IsNotFound: true}
}

// fallbackDelay is how long the addresses of the first family have alone
// before those of the other family are tried too (RFC 8305, as Go's own
// dialer does), so that a host whose IPv6 is unreachable still connects
// quickly over IPv4.
const fallbackDelay = 300 * time.Millisecond

// dialAddrs connects to the first of ips that answers: the addresses of
// the first one's family in turn and, from fallbackDelay on or once they
// all failed, the others in parallel.
func (g *guard) dialAddrs(ctx context.Context, network, port string, ips []netip.Addr) (net.Conn, error) {
	var primaries, fallbacks []netip.Addr
	for _, ip := range ips {
		if ip.Is4() == ips[0].Is4() {
			primaries = append(primaries, ip)
		} else {
			fallbacks = append(fallbacks, ip)
		}
	}
	if len(fallbacks) == 0 {
		return g.dialSerial(ctx, network, port, primaries)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn net.Conn
		err  error
	}
	results := make(chan result, 2) // buffered: a loser never blocks
	race := func(ips []netip.Addr) {
		go func() {
			c, err := g.dialSerial(ctx, network, port, ips)
			results <- result{c, err}
		}()
	}
	race(primaries)
	timer := time.NewTimer(fallbackDelay)
	defer timer.Stop()
	pending, fellBack := 1, false
	var firstErr error
	for {
		select {
		case <-timer.C:
		case r := <-results:
			pending--
			if r.err == nil {
				if pending > 0 {
					// The other attempt is cancelled; close it if it won too.
					go func() {
						if late := <-results; late.conn != nil {
							late.conn.Close()
						}
					}()
				}
				return r.conn, nil
			}
			firstErr = cmpErr(firstErr, r.err)
			if fellBack && pending == 0 {
				return nil, firstErr
			}
		}
		if !fellBack {
			fellBack = true
			pending++
			race(fallbacks)
		}
	}
}

func (g *guard) dialSerial(ctx context.Context, network, port string, ips []netip.Addr) (net.Conn, error) {
	var firstErr error
	for _, ip := range ips {
		conn, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		firstErr = cmpErr(firstErr, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

func (g *guard) lookup(ctx context.Context, network, hostName string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(hostName, "[]")); err == nil {
		return []netip.Addr{ip}, nil
	}
	family := "ip"
	switch network {
	case "tcp4":
		family = "ip4"
	case "tcp6":
		family = "ip6"
	}
	return g.policy.resolver().LookupNetIP(ctx, family, hostName)
}

// proxy is the transport's Proxy: the operator's proxy from the
// environment. Through a proxy, gitrelay connects only to the proxy and
// the proxy resolves the target, so the target is checked as far as
// gitrelay can: an address is checked, and so are the addresses a host
// name resolves to here (the proxy's own resolution is the proxy's
// policy; a name that does not resolve here is left to the proxy).
func (g *guard) proxy(req *http.Request) (*url.URL, error) {
	pick := g.policy.Proxy
	if pick == nil {
		pick = http.ProxyFromEnvironment
	}
	u, err := pick(req)
	if u == nil || err != nil {
		return u, err
	}
	if err := g.checkTarget(req.Context(), req.URL.Hostname()); err != nil {
		return nil, err
	}
	g.proxies.Store(proxyAddr(u), struct{}{})
	return u, nil
}

func (g *guard) checkTarget(ctx context.Context, hostName string) error {
	if g.policy.Allow.allowsName(hostName) {
		return nil
	}
	ips, err := g.lookup(ctx, "tcp", hostName)
	if err != nil {
		return nil // the proxy resolves it
	}
	var refused error
	for _, ip := range ips {
		err := g.policy.Check(hostName, ip)
		if err == nil {
			return nil
		}
		refused = cmpErr(refused, err)
	}
	return refused
}

// proxyAddr is the host:port the transport dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
