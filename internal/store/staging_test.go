package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// TestStaging checks what Begin and the end of a transaction do to
// libostree's staging directories: stale ones nobody holds are removed,
// the transaction's own is private, Discard removes it, and one taken up
// keeps only content-addressed objects.
func TestStaging(t *testing.T) {
	testrepo.RequireTools(t)
	path := filepath.Join(t.TempDir(), "repo")
	testrepo.Init(t, path, "archive")
	tmp := filepath.Join(path, "tmp")
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, age time.Time) string {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "ab"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(dir, age, age)
		return dir
	}
	stale := mk("staging-other-boot-aaaaaa", old)
	fresh := mk("staging-other-boot-bbbbbb", time.Now())
	held := mk("staging-other-boot-cccccc", old)
	lock, err := os.OpenFile(held+"-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	fl := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(lock.Fd(), unix.F_OFD_SETLK, &fl); err != nil {
		t.Fatal(err)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.StagingMaxAge = time.Hour
	tx, err := r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]bool{stale: false, fresh: true, held: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
	own := r.Txn().StagingDir()
	if !strings.Contains(own, "/tmp/staging-") {
		t.Fatalf("StagingDir() = %q", own)
	}
	if fi, err := os.Stat(own); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the staging directory: %v, %v; want mode 0700", fi, err)
	}
	// Stage what may and may not be taken up, then abort as an
	// interrupted push does.
	for _, name := range []string{"dirtree", "commit", "commitmeta"} {
		sum := object.Checksum{1, 2, byte(len(name))}
		hex := sum.String()
		os.MkdirAll(filepath.Join(own, hex[:2]), 0o755)
		os.WriteFile(filepath.Join(own, hex[:2], hex[2:]+"."+name), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(own, "stray"), []byte("x"), 0o644)
	if err := tx.Abort(); err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(own, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, filepath.Ext(p))
		}
		return nil
	})
	if strings.Join(left, " ") != ".dirtree" {
		t.Errorf("an interrupted transaction's staging keeps %v, want only the dirtree", left)
	}
	// The next transaction takes it up, and Discard removes it.
	tx, err = r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if r.Txn().StagingDir() != own || !tx.(transfer.ResumeTxn).Resumed() {
		t.Fatalf("the next transaction took %q (resumed %v), want %q", r.Txn().StagingDir(), tx.(transfer.ResumeTxn).Resumed(), own)
	}
	if err := tx.(transfer.DiscardTxn).Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own); !os.IsNotExist(err) {
		t.Errorf("Discard left the staging directory: %v", err)
	}
}

// TestKeepStagedFileModes: in a repository whose files keep their real
// mode (bare, bare-split-xattrs), a staged setuid or setgid file, or one
// carrying file capabilities, is not taken up.
func TestKeepStagedFileModes(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "ab")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("c", 62) + ".file"
	p := filepath.Join(sub, name)
	write := func(mode os.FileMode) {
		os.Remove(p)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	kept := func(mode libostree.Mode) bool {
		if err := keepOnlyResumable(dir, mode); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(p)
		return err == nil
	}
	for _, mode := range []libostree.Mode{libostree.ModeBare, libostree.ModeBareSplitXattrs} {
		write(0o755 | os.ModeSetuid)
		if kept(mode) {
			t.Errorf("%s: a setuid file was kept", mode)
		}
		write(0o755 | os.ModeSetgid)
		if kept(mode) {
			t.Errorf("%s: a setgid file was kept", mode)
		}
		write(0o755)
		if !kept(mode) {
			t.Errorf("%s: a plain file was removed", mode)
		}
		// security.capability: version 2, CAP_SETUID permitted.
		caps := []byte{0, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		if err := unix.Lsetxattr(p, "security.capability", caps, 0); err != nil {
			t.Logf("cannot set security.capability here (%v): that case untested", err)
			continue
		}
		if kept(mode) {
			t.Errorf("%s: a file with capabilities was kept", mode)
		}
	}
}
