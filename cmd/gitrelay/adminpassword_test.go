package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// checkAdminPassword reports whether admin signs in with password in the
// data directory's database.
func checkAdminPassword(t *testing.T, data, password string) error {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = directory.New(db, nil).CheckPassword(ctx, relay.LocalTenant, "admin", password)
	return err
}

// An unattended first start takes the administrator's password from a
// file and never prints it; a password too short stops the start before
// anyone is created, and the next start still creates the administrator.
func TestFirstStartTakesTheAdministratorPasswordFromAFile(t *testing.T) {
	const password = "Correct-Horse-CANARY-9"
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "admin-password")

	if err := os.WriteFile(file, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv("GITRELAY_DATA="+data, "GITRELAY_ADMIN_PASSWORD_FILE="+file)
	out, err := gitrelay(t, env, "serve", "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "has 5 characters; write one of at least 10 characters") || !strings.Contains(out, file) {
		t.Fatalf("serve with a short password: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "gitrelay.db")); err == nil {
		db, err := store.Open(context.Background(), store.Config{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.CountUsers(context.Background(), relay.LocalTenant)
		db.Close()
		if err != nil || n != 0 {
			t.Fatalf("a refused password left %d users (%v)", n, err)
		}
	}

	if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, env)
	p.stop()
	if strings.Contains(p.stdout.String()+p.stderr.String(), password) {
		t.Fatalf("the password from the file was printed:\n%s\n%s", p.stdout, p.stderr)
	}
	if !strings.Contains(p.stdout.String(), `Created administrator "admin" with the password in `+file) {
		t.Fatalf("serve did not say where the password came from:\n%s", p.stdout)
	}
	if err := checkAdminPassword(t, data, password); err != nil {
		t.Fatalf("admin cannot sign in with the password from the file: %v", err)
	}

	// Later starts leave the administrator alone, whatever the file says.
	if err := os.WriteFile(file, []byte("Another-Password-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p = serve(t, env)
	p.stop()
	if strings.Contains(p.stdout.String(), "Created administrator") {
		t.Fatalf("a second start created the administrator again:\n%s", p.stdout)
	}
	if err := checkAdminPassword(t, data, password); err != nil {
		t.Fatalf("a later start changed the administrator's password: %v", err)
	}
}
