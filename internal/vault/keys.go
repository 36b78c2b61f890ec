package vault

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// EnvVar is the environment variable that holds keys when there is no key
// file. Messages name it so that operators know what to change.
const EnvVar = "GITRELAY_SECRET_KEY"

const keyFormatHelp = "each key must be 32 bytes, base64 or hex — generate one with `openssl rand -base64 32`"

// ParseKeys parses the value of GITRELAY_SECRET_KEY: comma-separated keys,
// primary first, each 32 bytes in standard or URL base64 (with or without
// padding) or in 64 hex characters.
func ParseKeys(s string) ([][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%s is empty; %s", EnvVar, keyFormatHelp)
	}
	var keys [][]byte
	seen := map[KeyID]int{}
	for i, field := range strings.Split(s, ",") {
		k, problem := parseKey(field)
		if problem != "" {
			return nil, fmt.Errorf("%s: key %d %s; %s", EnvVar, i+1, problem, keyFormatHelp)
		}
		id := IDOf(k)
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s: key %d is the same as key %d; list each key once, the new key first", EnvVar, i+1, j)
		}
		seen[id] = i + 1
		keys = append(keys, k)
	}
	return keys, nil
}

// parseKey decodes one key. On failure it says what is wrong in a phrase
// ("is 16 bytes") that never quotes the input, which may be a real key.
func parseKey(s string) ([]byte, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "is empty"
	}
	if isHex(s) && len(s)%2 == 0 {
		// A random base64 key is all hex digits practically never, so an
		// even string of hex digits is meant as hex ("openssl rand -hex
		// 32"). An odd one may still be unpadded base64 (43 characters).
		k, _ := hex.DecodeString(s)
		if len(k) != KeySize {
			return nil, fmt.Sprintf("is %d bytes", len(k))
		}
		return k, ""
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			if isHex(s) {
				break // hex with a digit too many or too few
			}
			return nil, fmt.Sprintf("is %d bytes", len(k))
		}
		return k, ""
	}
	if isHex(s) {
		return nil, "has an odd number of hex digits"
	}
	return nil, "is neither base64 nor hex"
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// LoadFile reads a key file: one key per line (base64, or hex), the first
// the primary; blank lines and lines starting with # are ignored. When the
// file does not exist and create is true, it writes one with a new random
// key (mode 0600, in a directory created with mode 0700). It refuses a file
// that group or others may access.
func LoadFile(path string, create bool) ([][]byte, error) {
	keys, err := readKeyFile(path)
	if err == nil || !create || !errors.Is(err, fs.ErrNotExist) {
		return keys, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("vault: creating the key file's directory: %w", err)
	}
	if err := createKeyFile(path, NewKey()); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// Read back what is there: another process starting at the same time
	// may have created the file first, and its key is the one to use.
	return readKeyFile(path)
}

func readKeyFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("vault: key file %s does not exist: %w", path, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("vault: opening the key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault: key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("vault: key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits to check.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("vault: key file %s has mode %#o, so others can read it; it must be readable by its owner only: chmod 600 %s", path, perm, path)
	}
	var keys [][]byte
	seen := map[KeyID]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, problem := parseKey(line)
		if problem != "" {
			return nil, fmt.Errorf("vault: key file %s line %d: the key %s; %s", path, n, problem, keyFormatHelp)
		}
		id := IDOf(k)
		if m, dup := seen[id]; dup {
			return nil, fmt.Errorf("vault: key file %s line %d repeats the key of line %d", path, n, m)
		}
		seen[id] = n
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vault: reading key file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("vault: key file %s holds no keys; %s", path, keyFormatHelp)
	}
	return keys, nil
}

func keyFileContents(keys [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("# gitrelay secret keys, one base64 key per line.\n")
	b.WriteString("# The first key seals new secrets; the others only open secrets sealed\n")
	b.WriteString("# before a rotation. Keep this file private (mode 0600) and backed up:\n")
	b.WriteString("# without it, stored credentials and tokens cannot be decrypted.\n")
	fmt.Fprintf(&b, "# Written %s.\n", time.Now().UTC().Format(time.RFC3339))
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// writeTemp writes a private temporary file next to path, synced to disk.
func writeTemp(path string, keys [][]byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("vault: writing the key file: %w", err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(keyFileContents(keys))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("vault: writing the key file: %w", err)
	}
	return name, nil
}

// writeKeyFile replaces the key file atomically: a reader sees the old file
// or the new one, never a part of either.
func writeKeyFile(path string, keys [][]byte) error {
	tmp, err := writeTemp(path, keys)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vault: replacing the key file: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// createKeyFile writes a new key file unless one exists (fs.ErrExist). A
// hard link publishes the complete file in one step and fails if the name
// is taken, so two processes starting together agree on one key.
func createKeyFile(path string, key []byte) error {
	tmp, err := writeTemp(path, [][]byte{key})
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		syncDir(filepath.Dir(path))
		return err
	}
	// No hard links on this file system: create exclusively instead.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("vault: creating the key file: %w", err)
	}
	_, err = f.Write(keyFileContents([][]byte{key}))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("vault: creating the key file: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a rename or link durable. Best effort: not every platform
// can sync a directory, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
