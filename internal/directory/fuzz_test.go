package directory_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/directory"
)

// FuzzVerifyPassword feeds arbitrary stored hashes and passwords to the
// password check: it never panics, never spends more memory than the
// largest parameters it accepts (64 MiB), and a real hash matches its own
// password only.
func FuzzVerifyPassword(f *testing.F) {
	const password = "correct horse battery"
	real := directory.HashPassword(password)
	f.Add(real, password)
	f.Add(real, password+" ")
	f.Add(real, "")
	f.Add("", "")
	f.Add("$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", "x")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", "x")
	f.Add("$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", "x")
	f.Add("$argon2i$v=19$m=8,t=1,p=1$c2FsdA$a2V5", "x")
	f.Add(strings.Replace(real, "$v=19$", "$v=16$", 1), password)
	f.Fuzz(func(t *testing.T, hash, pw string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ok := directory.VerifyPassword(hash, pw)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 65<<20 {
			t.Fatalf("VerifyPassword(%q) allocated %d MiB", hash, grew>>20)
		}
		if hash == real && ok != (pw == password) {
			t.Fatalf("the hash of %q verifies %q: %v", password, pw, ok)
		}
		if ok && !strings.HasPrefix(hash, "$argon2id$v=19$") {
			t.Fatalf("a hash in another format verified: %q", hash)
		}
	})
}
