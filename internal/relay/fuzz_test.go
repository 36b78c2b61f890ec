package relay_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// plainSealer "seals" by prefixing the owner, so that the fuzzer reaches
// the credential decoding behind it.
type plainSealer struct{}

func (plainSealer) Seal(pt []byte, owner string) ([]byte, error) {
	return append([]byte(owner+"\x00"), pt...), nil
}

func (plainSealer) Open(sealed []byte, owner string) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(owner+"\x00"))
	if !ok {
		return nil, fmt.Errorf("sealed for another owner")
	}
	return rest, nil
}

const fuzzOwner = "user-token\x00t1\x00u1\x00i1"

// FuzzOpenCredential feeds arbitrary decrypted bytes to the credential
// decoder: it never panics, what it accepts seals and opens back to the same
// credential, and a credential never prints, logs or marshals a secret.
func FuzzOpenCredential(f *testing.F) {
	for _, c := range []relay.Credential{
		relay.TokenCredential("ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
		relay.PasswordCredential(`DOMAIN\alice`, "pa ss\"word"),
		relay.AccessKeyCredential("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
		relay.NewCredential("t", "u", "p", "a", "s"),
		{},
	} {
		sealed, err := relay.SealCredential(plainSealer{}, c, fuzzOwner)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimPrefix(sealed, []byte(fuzzOwner+"\x00")))
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"t":1}`, `{"t":"a","t":"b"}`, `{"T":"upper"}`, `{"t":"\ud800"}`, "{\"t\":\"\xff\"}", `{"t":"x"} trailing`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		sealed, _ := plainSealer{}.Seal(plaintext, fuzzOwner)
		c, err := relay.OpenCredential(plainSealer{}, sealed, fuzzOwner)
		if _, err2 := relay.OpenCredential(plainSealer{}, sealed, fuzzOwner+"x"); err2 == nil {
			t.Fatal("a credential opened for another owner")
		}
		if err != nil {
			if !c.IsZero() {
				t.Fatal("a failed open returned a credential")
			}
			return
		}
		fields := []string{c.Token(), c.Username(), c.Password(), c.AccessKeyID(), c.SecretAccessKey()}
		resealed, err := relay.SealCredential(plainSealer{}, c, fuzzOwner)
		if err != nil {
			t.Fatalf("an opened credential does not seal again: %v", err)
		}
		back, err := relay.OpenCredential(plainSealer{}, resealed, fuzzOwner)
		if err != nil {
			t.Fatalf("a resealed credential does not open: %v", err)
		}
		if got := []string{back.Token(), back.Username(), back.Password(), back.AccessKeyID(), back.SecretAccessKey()}; fmt.Sprint(got) != fmt.Sprint(fields) {
			t.Fatalf("round trip changed the credential: %q → %q", fields, got)
		}
		checkNeverShown(t, c, fields)
	})
}

// FuzzSealCredential checks that every credential a user can type (valid
// UTF-8, as forms and JSON deliver) comes back from storage unchanged.
func FuzzSealCredential(f *testing.F) {
	f.Add("ghp_x", "", "", "", "")
	f.Add("", `DOMAIN\alice`, " pw with spaces ", "", "")
	f.Add("", "", "", "AKIAIOSFODNN7EXAMPLE", "wJalr/K7+MDENG")
	f.Add("\"},{\"t\":\"evil", "\x00", "\u2028", "<>&", "\\u0000")
	f.Fuzz(func(t *testing.T, token, username, password, keyID, secret string) {
		fields := []string{token, username, password, keyID, secret}
		for _, s := range fields {
			if !utf8.ValidString(s) {
				return
			}
		}
		c := relay.NewCredential(token, username, password, keyID, secret)
		sealed, err := relay.SealCredential(plainSealer{}, c, fuzzOwner)
		if err != nil {
			t.Fatal(err)
		}
		back, err := relay.OpenCredential(plainSealer{}, sealed, fuzzOwner)
		if err != nil {
			t.Fatal(err)
		}
		if got := []string{back.Token(), back.Username(), back.Password(), back.AccessKeyID(), back.SecretAccessKey()}; fmt.Sprint(got) != fmt.Sprint(fields) {
			t.Fatalf("storage changed the credential: %q → %q", fields, got)
		}
		checkNeverShown(t, c, fields)
	})
}

// checkNeverShown asserts that no way of printing c shows a secret.
func checkNeverShown(t *testing.T, c relay.Credential, secrets []string) {
	t.Helper()
	shown := showAll(c)
	// What any credential shows: a secret found there is no leak.
	fixed := showAll(relay.NewCredential("\x01", "\x01", "\x01", "\x01", "\x01"))
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(shown, s) && !strings.Contains(fixed, s) {
			t.Fatalf("a credential showed its secret %q: %s", s, shown)
		}
	}
}

var address = regexp.MustCompile(`0x[0-9a-f]+`)

// showAll is every way a credential can reach a log, a page or an answer,
// with pointer addresses (which vary) left out.
func showAll(c relay.Credential) string {
	type holder struct {
		Cred relay.Credential
		cred relay.Credential
	}
	js, _ := json.Marshal(holder{Cred: c})
	var logged strings.Builder
	noTime := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewTextHandler(&logged, noTime)).Info("x", "cred", c)
	slog.New(slog.NewJSONHandler(&logged, noTime)).Info("x", "holder", holder{c, c})
	shown := fmt.Sprintf("%v %+v %#v %s %q %v %+v %#v", c, c, c, c, c, holder{c, c}, &holder{c, c}, holder{c, c}) + string(js) + logged.String()
	return address.ReplaceAllString(shown, "0x")
}
