package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyMessages is the fixed text of key parsing errors: an input found in it
// was not quoted from the input.
var keyMessages = EnvVar + keyFormatHelp + "is empty has an odd number of hex digits is neither base64 nor hex is the same as key list each key once, the new key first vault: key file line the key repeats the key of holds no keys; reading"

// checkNotQuoted fails when msg quotes a piece of the input longer than a
// few characters: keys are secrets, and a mistyped key is nearly one.
func checkNotQuoted(t *testing.T, msg string, pieces []string) {
	t.Helper()
	for _, p := range pieces {
		p = strings.TrimSpace(p)
		if len(p) >= 8 && strings.Contains(msg, p) && !strings.Contains(keyMessages, p) {
			t.Fatalf("the error %q quotes the input %q", msg, p)
		}
	}
}

func checkKeys(t *testing.T, keys [][]byte) {
	t.Helper()
	if len(keys) == 0 {
		t.Fatal("no keys and no error")
	}
	seen := map[KeyID]bool{}
	for _, k := range keys {
		if len(k) != KeySize {
			t.Fatalf("a key of %d bytes", len(k))
		}
		if seen[IDOf(k)] {
			t.Fatal("a key listed twice")
		}
		seen[IDOf(k)] = true
	}
	if _, err := NewRing(keys...); err != nil {
		t.Fatalf("parsed keys make no ring: %v", err)
	}
}

// FuzzParseKeys checks GITRELAY_SECRET_KEY parsing: it accepts only lists
// of distinct 32-byte keys, which read back the same once written in base64
// or hex, and its errors never quote the value.
func FuzzParseKeys(f *testing.F) {
	k1, k2 := base64.StdEncoding.EncodeToString(testKey(1)), hex.EncodeToString(testKey(2))
	for _, s := range []string{k1, k1 + "," + k2, " " + k1 + " ,\t" + k2 + "\n", k1 + "," + k1, k1 + ",",
		strings.TrimRight(k1, "="), base64.URLEncoding.EncodeToString(testKey(3)), k2[:63], k2[:62], "", ",", "not a key at all, really"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseKeys(s)
		if err != nil {
			checkNotQuoted(t, err.Error(), strings.Split(s, ","))
			return
		}
		checkKeys(t, keys)
		if n := strings.Count(s, ",") + 1; len(keys) != n {
			t.Fatalf("%d keys from %d fields", len(keys), n)
		}
		var b64, hx []string
		for _, k := range keys {
			b64 = append(b64, base64.RawURLEncoding.EncodeToString(k))
			hx = append(hx, strings.ToUpper(hex.EncodeToString(k)))
		}
		for _, again := range []string{strings.Join(b64, ","), strings.Join(hx, ",")} {
			back, err := ParseKeys(again)
			if err != nil || !sameKeys(back, keys) {
				t.Fatalf("keys do not read back from %q: %v", again, err)
			}
		}
	})
}

// FuzzKeyFile checks the key file parser: it accepts only distinct 32-byte
// keys, agrees with GITRELAY_SECRET_KEY parsing on the same keys, reads back
// what it writes, and its errors never quote a line.
func FuzzKeyFile(f *testing.F) {
	k1, k2 := base64.StdEncoding.EncodeToString(testKey(1)), hex.EncodeToString(testKey(2))
	for _, s := range []string{
		string(keyFileContents([][]byte{testKey(1), testKey(2)})),
		k1 + "\n", "# comment\n\n  " + k1 + "  \r\n" + k2, k1 + "\n" + k1 + "\n", "# only a comment\n", "",
		k1 + "," + k2 + "\n", "\xff\xfe" + k1, strings.Repeat("A", 70000) + "\n" + k1,
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "keys")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		keys, err := readKeyFile(path)
		lines := strings.Split(string(content), "\n")
		if err != nil {
			checkNotQuoted(t, strings.ReplaceAll(err.Error(), path, ""), lines)
			return
		}
		checkKeys(t, keys)
		var fields []string
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				fields = append(fields, l)
			}
		}
		if joined := strings.Join(fields, ","); !strings.Contains(strings.Join(fields, ""), ",") {
			same, err := ParseKeys(joined)
			if err != nil || !sameKeys(same, keys) {
				t.Fatalf("the key file and %s disagree on %q: %v", EnvVar, joined, err)
			}
		}
		if err := os.WriteFile(path, keyFileContents(keys), 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := readKeyFile(path)
		if err != nil || !sameKeys(back, keys) {
			t.Fatalf("a written key file does not read back: %v", err)
		}
	})
}

func sameKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
