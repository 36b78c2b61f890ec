// Package clientip tells the address of the client behind a request: the
// one place that reads X-Forwarded-For, and only from proxies the operator
// trusts (--trusted-proxies). Everything that keys on the client (sign-in
// throttling) asks it, so that no part of gitrelay believes a header any
// client can set.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client address of requests. Its zero value trusts no
// proxy: the client is the direct peer.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse reads a comma-separated list of CIDRs (a bare address means just
// that address), e.g. "10.0.0.0/8,192.168.1.7,fd00::/8". An empty list
// trusts no proxy. Errors name the entry and what is expected.
func Parse(list string) (Resolver, error) {
	var r Resolver
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(item)
			if err == nil {
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return Resolver{}, fmt.Errorf("trusted proxy %q is not an address or CIDR: give addresses or networks such as 10.0.0.0/8 or fd00::/8, separated by commas", item)
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: compare in IPv4.
			if p.Bits() < 96 {
				return Resolver{}, fmt.Errorf("trusted proxy %q mixes IPv4-mapped and IPv6 addresses: write the IPv4 network instead", item)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// String lists the trusted networks.
func (r Resolver) String() string {
	s := make([]string, len(r.trusted))
	for i, p := range r.trusted {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (r Resolver) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client address of req. It is the direct peer, unless
// the peer is a trusted proxy: then X-Forwarded-For is read from the right
// (each proxy appends the address it saw) and the first address that is
// not a trusted proxy is the client. Addresses to the left of it were
// written by the client itself and are never believed.
func (r Resolver) Addr(req *http.Request) string {
	peer, ok := parse(req.RemoteAddr)
	if !ok {
		return req.RemoteAddr
	}
	if len(r.trusted) == 0 || !r.trusts(peer) {
		return peer.String()
	}
	client := peer
	hops := req.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, ok := parse(strings.TrimSpace(parts[j]))
			if !ok {
				// Not an address a proxy would write: stop at the last
				// hop known good.
				return client.String()
			}
			client = a
			if !r.trusts(a) {
				return a.String()
			}
		}
	}
	return client.String()
}

// parse reads an address with or without a port, IPv4-mapped IPv6 as IPv4.
func parse(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
