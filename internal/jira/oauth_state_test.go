package jira

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/vault"
)

// stateRing is the key ring of the state tests and of the fuzz seeds in
// testdata/fuzz/FuzzSignInStateCookie.
func stateRing(t testing.TB, b byte) *vault.Ring {
	t.Helper()
	r, err := vault.NewRing(bytes.Repeat([]byte{b}, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var stateNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// seedState is the only state the fuzz seeds hold.
var seedState = signInState{State: "seed-state", Verifier: "seed-verifier", ReturnTo: "/issues/ABC-1", Expires: 4102444800}

func TestSignInStateCookieIsSealedWithTheSecretKeyRing(t *testing.T) {
	ring := stateRing(t, 7)
	st := signInState{State: "s-1", Verifier: "v-1", ReturnTo: "/issues/ABC-1", Site: "https://a.atlassian.net", Expires: stateNow.Add(10 * time.Minute).Unix()}
	value, err := sealSignInState(ring, st)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(value, "v-1") {
		t.Fatal("the PKCE verifier is readable in the cookie")
	}
	if got, err := parseSignInState(ring, value, stateNow); err != nil || got != st {
		t.Fatalf("round trip: %+v %v", got, err)
	}

	// What the cookie was signed with before: an HMAC keyed by the OAuth
	// client secret, which may be empty (public clients), so anyone could
	// compute it.
	forged, _ := json.Marshal(signInState{State: "attacker", Verifier: "attacker", ReturnTo: "/", Expires: stateNow.Add(time.Hour).Unix()})
	payload := base64.RawURLEncoding.EncodeToString(forged)
	emptyKey := hmac.New(sha256.New, []byte(""))
	emptyKey.Write([]byte("gitrelay sign-in cookie"))
	mac := hmac.New(sha256.New, emptyKey.Sum(nil))
	mac.Write([]byte(payload))
	oldStyle := payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	other, err := sealSignInState(stateRing(t, 8), st)
	if err != nil {
		t.Fatal(err)
	}
	sealedBytes, _ := base64.RawURLEncoding.DecodeString(value)
	sealedBytes[len(sealedBytes)-1] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(sealedBytes)
	otherOwner, _ := ring.Seal(forged, "jira-system-token\x00x")
	expired, _ := sealSignInState(ring, signInState{State: "s", Verifier: "v", Expires: stateNow.Add(-time.Second).Unix()})

	for name, v := range map[string]string{
		"signed with an empty client secret": oldStyle,
		"the bare JSON":                      payload,
		"sealed by another key ring":         other,
		"tampered":                           tampered,
		"another secret of this ring":        base64.RawURLEncoding.EncodeToString(otherOwner),
		"expired":                            expired,
		"empty":                              "",
		"too long":                           strings.Repeat("A", maxStateCookie+1),
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if got, err := parseSignInState(ring, v, stateNow); err == nil {
				t.Fatalf("accepted: %+v", got)
			}
		})
	}
}

// FuzzSignInStateCookie: nothing but a cookie sealed by the ring opens,
// and no input makes the parser fail other than with an error.
func FuzzSignInStateCookie(f *testing.F) {
	ring := stateRing(f, 7)
	f.Add("")
	f.Add("e30")
	f.Add("eyJzIjoieCJ9.c2ln")
	if v, err := sealSignInState(ring, seedState); err == nil {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		st, err := parseSignInState(ring, value, stateNow)
		if err == nil && st != seedState {
			t.Fatalf("a cookie the ring never sealed opened: %+v", st)
		}
	})
}
