package relay

import (
	"testing"
	"time"
)

func TestChooseIdentity(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	past, soon, later := now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(90*24*time.Hour)
	valid := &UserToken{Status: TokenValid, Account: Account{Login: "bob", ExpiresAt: &later}}
	expiring := &UserToken{Status: TokenValid, Account: Account{Login: "bob", ExpiresAt: &soon}}
	expiredByClock := &UserToken{Status: TokenValid, Account: Account{Login: "bob", ExpiresAt: &past}}
	revoked := &UserToken{Status: TokenRevoked}
	scopeless := &UserToken{Status: TokenInsufficientScope}
	pat := Capabilities{PAT: true}
	noPAT := Capabilities{PAT: false}

	tests := []struct {
		name     string
		require  bool
		caps     Capabilities
		tok      *UserToken
		wantVia  Via
		wantCode string
	}{
		{"default acts as the integration account", false, pat, nil, ViaIntegration, ""},
		{"required without a token is refused", true, pat, nil, "", EUserTokenRequired},
		{"required with a valid token uses it", true, pat, valid, ViaUserToken, ""},
		{"an expiring token still acts", true, pat, expiring, ViaUserToken, ""},
		{"not required but saved token acts as the user", false, pat, valid, ViaUserToken, ""},
		{"expired by the clock is refused", true, pat, expiredByClock, "", EUserTokenExpired},
		{"revoked is refused", true, pat, revoked, "", EUserTokenRevoked},
		{"missing scope is refused", true, pat, scopeless, "", EUserTokenInsufficientScope},
		{"an unusable saved token never falls back to the integration", false, pat, revoked, "", EUserTokenRevoked},
		{"host without PATs under Require User PAT", true, noPAT, nil, "", EPATNotSupported},
		{"host without PATs by default uses the integration", false, noPAT, nil, ViaIntegration, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Integration{Name: "GHE", RequireUserPAT: tt.require}
			via, err := ChooseIdentity(in, tt.caps, tt.tok, now)
			if got := ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q, want %q (err %v)", got, tt.wantCode, err)
			}
			if via != tt.wantVia {
				t.Fatalf("via = %q, want %q", via, tt.wantVia)
			}
		})
	}
}

func TestMissingScope(t *testing.T) {
	req := [][]string{{"repo"}}
	tests := []struct {
		name string
		have []string
		want string
	}{
		{"unknown scopes are not judged", nil, ""},
		{"exact scope", []string{"read:org", "repo"}, ""},
		{"missing", []string{"public_repo"}, "repo"},
		{"empty list misses everything", []string{}, "repo"},
	}
	for _, tt := range tests {
		if got := MissingScope(req, tt.have); got != tt.want {
			t.Errorf("%s: MissingScope = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := MissingScope([][]string{{"api", "write_api"}}, []string{"read_api"}); got != "api or write_api" {
		t.Errorf("alternatives: got %q", got)
	}
}

func TestStatusAt(t *testing.T) {
	now := time.Now()
	soon := now.Add(time.Hour)
	tok := UserToken{Status: TokenValid, Account: Account{ExpiresAt: &soon}}
	if got := tok.StatusAt(now); got != TokenExpiring {
		t.Errorf("one hour before expiry: %s, want expiring", got)
	}
	if got := tok.StatusAt(soon); got != TokenExpired {
		t.Errorf("at expiry: %s, want expired", got)
	}
}

func TestNewIDIsOrderedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := NewID()
		if len(id) != 26 || seen[id] {
			t.Fatalf("bad or duplicate id %q", id)
		}
		if id <= prev {
			t.Fatalf("ids are not strictly increasing: %q after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}
