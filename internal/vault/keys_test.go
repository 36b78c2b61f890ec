package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	k1, k2 := testKey(0xFB), testKey(0x3E) // 0xFB… encodes with + and / (or - and _)
	std := base64.StdEncoding.EncodeToString(k1)
	tests := []struct {
		name string
		in   string
		want [][]byte
	}{
		{"standard base64 with padding", std, [][]byte{k1}},
		{"standard base64 without padding", strings.TrimRight(std, "="), [][]byte{k1}},
		{"URL base64 with padding", base64.URLEncoding.EncodeToString(k1), [][]byte{k1}},
		{"URL base64 without padding", base64.RawURLEncoding.EncodeToString(k1), [][]byte{k1}},
		{"lower-case hex", hex.EncodeToString(k1), [][]byte{k1}},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(k1)), [][]byte{k1}},
		{"several keys, primary first", std + "," + hex.EncodeToString(k2), [][]byte{k1, k2}},
		{"spaces around keys", "  " + std + " , " + hex.EncodeToString(k2) + "\n", [][]byte{k1, k2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeys(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("key %d differs", i+1)
				}
			}
		})
	}
}

func TestParseKeysSaysWhatIsExpected(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(testKey(1))
	short := base64.StdEncoding.EncodeToString(testKey(2)[:16])
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "GITRELAY_SECRET_KEY is empty; each key must be 32 bytes, base64 or hex — generate one with `openssl rand -base64 32`"},
		{"short second key", good + "," + short, "GITRELAY_SECRET_KEY: key 2 is 16 bytes; each key must be 32 bytes, base64 or hex — generate one with `openssl rand -base64 32`"},
		{"not base64 or hex", "not a key!", "GITRELAY_SECRET_KEY: key 1 is neither base64 nor hex; each key must be"},
		{"63 hex digits", hex.EncodeToString(testKey(1))[:63], "key 1 has an odd number of hex digits"},
		{"16-byte hex key", hex.EncodeToString(testKey(1)[:16]), "key 1 is 16 bytes; each key must be 32 bytes"},
		{"trailing comma", good + ",", "GITRELAY_SECRET_KEY: key 2 is empty"},
		{"same key twice", good + "," + good, "GITRELAY_SECRET_KEY: key 2 is the same as key 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys(tt.in)
			if err == nil {
				t.Fatal("ParseKeys succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			for _, key := range []string{good, strings.TrimRight(short, "=")} {
				if strings.Contains(err.Error(), key) {
					t.Errorf("error %q quotes a key", err)
				}
			}
		})
	}
}

func TestLoadFileCreatesPrivateFileWithOneKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	path := filepath.Join(dir, "keys")
	keys, err := LoadFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || len(keys[0]) != KeySize {
		t.Fatalf("created %d keys (first %d bytes), want one of %d bytes", len(keys), len(keys[0]), KeySize)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %#o, want 0600", perm)
	}
	di, _ := os.Stat(dir)
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode = %#o, want 0700", perm)
	}
	again, err := LoadFile(path, true)
	if err != nil || len(again) != 1 || !bytes.Equal(again[0], keys[0]) {
		t.Errorf("loading again = %d keys, %v; want the same key", len(again), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (no temporary files left)", len(entries))
	}
}

func TestLoadFileWithoutCreateFailsWhenMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "keys"), false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadFileRefusesFileOthersCanRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(testKey(1))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path, true)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("err = %v, want a refusal saying the mode and how to fix it", err)
	}
}

func TestLoadFileReadsCommentsBlankLinesAndKeysInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	content := "# primary\n\n" + base64.StdEncoding.EncodeToString(testKey(1)) + "\n   \n# old\n  " +
		hex.EncodeToString(testKey(2)) + "  \n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0], testKey(1)) || !bytes.Equal(keys[1], testKey(2)) {
		t.Fatalf("got %d keys, want keys 1 and 2 in file order", len(keys))
	}
}

func TestLoadFileNamesTheBadLine(t *testing.T) {
	for name, content := range map[string]string{
		"short key":    "# c\n" + base64.StdEncoding.EncodeToString(testKey(1)) + "\n" + base64.StdEncoding.EncodeToString(testKey(2)[:20]) + "\n",
		"repeated key": "# c\n" + base64.StdEncoding.EncodeToString(testKey(1)) + "\n" + hex.EncodeToString(testKey(1)) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys")
			os.WriteFile(path, []byte(content), 0o600)
			_, err := LoadFile(path, false)
			if err == nil || !strings.Contains(err.Error(), "line 3") {
				t.Fatalf("err = %v, want it to name line 3", err)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(path, []byte("# only comments\n"), 0o600)
	if _, err := LoadFile(path, false); err == nil || !strings.Contains(err.Error(), "holds no keys") {
		t.Errorf("file without keys: err = %v", err)
	}
}
