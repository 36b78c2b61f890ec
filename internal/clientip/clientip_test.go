package clientip_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/clientip"
)

func TestClientAddress(t *testing.T) {
	r, err := clientip.Parse("10.0.0.0/8, 192.168.1.7 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no header: the peer", "203.0.113.9:5555", nil, "203.0.113.9"},
		{"a header from an untrusted peer is ignored", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"a trusted proxy's header names the client", "10.1.2.3:443", []string{"198.51.100.20"}, "198.51.100.20"},
		{"the right-most untrusted address wins over what the client forged", "10.1.2.3:443", []string{"1.1.1.1, 198.51.100.20"}, "198.51.100.20"},
		{"chains of trusted proxies are skipped", "10.1.2.3:443", []string{"198.51.100.20, 192.168.1.7", "10.9.9.9"}, "198.51.100.20"},
		{"a trusted single address", "192.168.1.7:80", []string{"198.51.100.21"}, "198.51.100.21"},
		{"an untrusted neighbour of a single address", "192.168.1.8:80", []string{"198.51.100.21"}, "192.168.1.8"},
		{"IPv4-mapped IPv6 peers are IPv4", "[::ffff:10.0.0.1]:443", []string{"198.51.100.22"}, "198.51.100.22"},
		{"IPv6 proxies", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"garbage stops at the last good hop", "10.1.2.3:443", []string{"not-an-ip, 10.4.4.4"}, "10.4.4.4"},
		{"only trusted hops: the left-most", "10.1.2.3:443", []string{"10.7.7.7"}, "10.7.7.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.Addr(req); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("trusting nobody ignores the header", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "10.1.2.3:443"
		req.Header.Set("X-Forwarded-For", "198.51.100.20")
		if got := (clientip.Resolver{}).Addr(req); got != "10.1.2.3" {
			t.Fatalf("got %s", got)
		}
	})
}

func TestParseSaysWhatIsWrong(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8,,nope"} {
		_, err := clientip.Parse(bad)
		if err == nil || !strings.Contains(err.Error(), "not an address or CIDR") {
			t.Errorf("Parse(%q) = %v", bad, err)
		}
	}
	r, err := clientip.Parse(" ")
	if err != nil || r.String() != "" {
		t.Fatalf("empty list: %v %q", err, r.String())
	}
	r, err = clientip.Parse("::ffff:10.0.0.0/104")
	if err != nil || r.String() != "10.0.0.0/8" {
		t.Fatalf("mapped network: %v %q", err, r.String())
	}
}
