package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func mustRing(t testing.TB, keys ...[]byte) *Ring {
	t.Helper()
	r, err := NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

var owner = relay.UserTokenOwner("tenant", "user", "integration", "https://git.example.com/api/v3")

func TestSealOpenRoundTrips(t *testing.T) {
	r := mustRing(t, testKey(1))
	for _, size := range []int{0, 1, 40, 1000, 70000} {
		pt := bytes.Repeat([]byte("x"), size)
		sealed, err := r.Seal(pt, owner)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Open(sealed, owner)
		if err != nil {
			t.Fatalf("size %d: Open: %v", size, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("size %d: got %d bytes back, want the %d sealed", size, len(got), size)
		}
	}
}

func TestSealedFormatIsVersionKeyIDNonceCiphertext(t *testing.T) {
	key := testKey(7)
	r := mustRing(t, key)
	pt := []byte("ghp_0123456789abcdef0123456789abcdef0123")
	sealed, _ := r.Seal(pt, owner)
	if got, want := len(sealed), 1+8+12+len(pt)+16; got != want {
		t.Errorf("sealed length = %d, want %d", got, want)
	}
	if sealed[0] != 1 {
		t.Errorf("version byte = %d, want 1", sealed[0])
	}
	sum := sha256.Sum256(key)
	if !bytes.Equal(sealed[1:9], sum[:8]) {
		t.Errorf("key id = %x, want the first 8 bytes of SHA-256 of the key %x", sealed[1:9], sum[:8])
	}
	if id, err := KeyIDOf(sealed); err != nil || id != r.Primary() || id != IDOf(key) {
		t.Errorf("KeyIDOf = %v, %v; want %v", id, err, r.Primary())
	}
	again, _ := r.Seal(pt, owner)
	if bytes.Equal(sealed[9:21], again[9:21]) {
		t.Error("two seals used the same nonce")
	}
}

func TestOpenRefusesAnotherOwner(t *testing.T) {
	r := mustRing(t, testKey(1))
	sealed, _ := r.Seal([]byte("secret"), relay.UserTokenOwner("t", "alice", "i", "https://git.example.com/api/v3"))
	for _, other := range []string{
		relay.UserTokenOwner("t", "bob", "i", "https://git.example.com/api/v3"),
		relay.UserTokenOwner("t2", "alice", "i", "https://git.example.com/api/v3"),
		// The same row, once its integration points at another host.
		relay.UserTokenOwner("t", "alice", "i", "https://evil.example.com/api/v3"),
		relay.UserTokenOwner("t", "alice", "i", ""),
		relay.IntegrationSecretOwner("t", "i"),
		"",
	} {
		if _, err := r.Open(sealed, other); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open for owner %q: err = %v, want ErrCorrupt", other, err)
		}
	}
}

func TestOpenRefusesAnySingleBitFlip(t *testing.T) {
	r := mustRing(t, testKey(1), testKey(2))
	sealed, _ := r.Seal([]byte("ghp_secret"), owner)
	for i := range len(sealed) * 8 {
		b := bytes.Clone(sealed)
		b[i/8] ^= 1 << (i % 8)
		if pt, err := r.Open(b, owner); err == nil {
			t.Fatalf("flipping bit %d: Open returned %q, want an error", i, pt)
		}
	}
}

func TestOpenRefusesTruncatedSecrets(t *testing.T) {
	r := mustRing(t, testKey(1))
	sealed, _ := r.Seal([]byte("ghp_secret"), owner)
	for n := range len(sealed) {
		if _, err := r.Open(sealed[:n], owner); err == nil {
			t.Fatalf("Open of the first %d bytes succeeded", n)
		}
	}
}

func TestOpenRefusesUnknownKey(t *testing.T) {
	sealed, _ := mustRing(t, testKey(1)).Seal([]byte("secret"), owner)
	_, err := mustRing(t, testKey(2)).Open(sealed, owner)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	if !strings.Contains(err.Error(), IDOf(testKey(1)).String()) {
		t.Errorf("error %q does not name the missing key id", err)
	}
}

func TestRingOpensWithAnyKeySealsWithPrimary(t *testing.T) {
	old := mustRing(t, testKey(1))
	sealed, _ := old.Seal([]byte("secret"), owner)
	r := mustRing(t, testKey(2), testKey(1))
	if got, err := r.Open(sealed, owner); err != nil || string(got) != "secret" {
		t.Fatalf("Open with the old key second in the ring = %q, %v", got, err)
	}
	if !r.NeedsReseal(sealed) {
		t.Error("NeedsReseal = false for a secret sealed with a non-primary key")
	}
	resealed, _ := r.Seal([]byte("secret"), owner)
	if r.NeedsReseal(resealed) {
		t.Error("NeedsReseal = true for a secret sealed with the primary")
	}
	if id, _ := KeyIDOf(resealed); id != IDOf(testKey(2)) {
		t.Errorf("sealed with %v, want the primary %v", id, IDOf(testKey(2)))
	}
	if r.NeedsReseal([]byte("garbage")) {
		t.Error("NeedsReseal = true for bytes that are not a sealed secret")
	}
}

func TestNewRingRejectsBadKeys(t *testing.T) {
	for name, keys := range map[string][][]byte{
		"no keys":       nil,
		"short key":     {testKey(1)[:16]},
		"long key":      {append(testKey(1), 0)},
		"duplicate key": {testKey(1), testKey(2), testKey(1)},
	} {
		if _, err := NewRing(keys...); err == nil {
			t.Errorf("%s: NewRing succeeded", name)
		}
	}
}

func TestNothingPrintsKeyMaterialOrPlaintext(t *testing.T) {
	key := testKey(0xAB)
	r := mustRing(t, key)
	sealed, _ := r.Seal([]byte("ghp_supersecret"), owner)
	_, errOwner := r.Open(sealed, "other")
	_, errKey := mustRing(t, testKey(1)).Open(sealed, owner)
	outputs := []string{
		fmt.Sprint(r), fmt.Sprintf("%v %+v %#v", r, r, r),
		errOwner.Error(), errKey.Error(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"supersecret", base64.StdEncoding.EncodeToString(key), "171, 171", "abababab"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q contains %q", out, secret)
			}
		}
	}
}

func TestRingIsSafeForConcurrentUse(t *testing.T) {
	r := mustRing(t, testKey(1), testKey(2))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				pt := fmt.Appendf(nil, "token-%d-%d", g, i)
				sealed, err := r.Seal(pt, owner)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := r.Open(sealed, owner)
				if err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Open = %q, %v; want %q", got, err, pt)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	r := mustRing(f, testKey(1), testKey(2))
	sealed, _ := r.Seal([]byte("ghp_secret"), owner)
	f.Add(sealed, owner)
	f.Add([]byte{}, "")
	f.Add([]byte{1}, owner)
	f.Add(sealed[:overhead], owner)
	f.Add(append([]byte{1}, IDOf(testKey(2)).String()...), "x")
	f.Fuzz(func(t *testing.T, data []byte, o string) {
		pt, err := r.Open(data, o)
		if err == nil {
			// Only a genuine sealed secret opens: sealing it again for the
			// same owner must give back the same plaintext.
			again, _ := r.Seal(pt, o)
			if got, err := r.Open(again, o); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("reseal round trip failed: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Open error %v is neither ErrCorrupt nor ErrUnknownKey", err)
		}
		if r.NeedsReseal(data) != (len(data) >= headerSize && data[0] == formatVersion && KeyID(data[1:headerSize]) != r.Primary()) {
			t.Fatal("NeedsReseal disagrees with the header")
		}
	})
}

var pat40 = []byte("ghp_0123456789abcdefghijklmnopqrstuvwxyz")

func BenchmarkSeal(b *testing.B) {
	r := mustRing(b, testKey(1))
	b.ReportAllocs()
	b.SetBytes(int64(len(pat40)))
	for b.Loop() {
		if _, err := r.Seal(pat40, owner); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	r := mustRing(b, testKey(1))
	sealed, _ := r.Seal(pat40, owner)
	b.ReportAllocs()
	b.SetBytes(int64(len(pat40)))
	for b.Loop() {
		if _, err := r.Open(sealed, owner); err != nil {
			b.Fatal(err)
		}
	}
}
