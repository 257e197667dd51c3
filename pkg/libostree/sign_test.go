package libostree_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
)

// Helpers of this file are prefixed with sig to stay clear of other test
// files of the package.

// sigRequireGPG fails (under CI=true) or skips the test when gpg or gpgconf
// is missing.
func sigRequireGPG(t *testing.T) {
	t.Helper()
	testrepo.RequireTools(t)
	for _, tool := range []string{"gpg", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (run ci/setup): %v", tool, err)
			}
			t.Skipf("%s not found (run ci/setup): %v", tool, err)
		}
	}
}

// sigGPGKey is a GPG key generated for a test.
type sigGPGKey struct {
	home       string // GnuPG home directory holding the secret key
	id         string // long key ID (16 hex digits)
	fpr        string // fingerprint
	keyring    string // the public key exported to one file (gpg --export)
	keyringDir string // a directory holding only that file, as key.gpg
}

func sigRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// sigNewGPGKey generates an ed25519 signing key (gpgme in libostree 2022.7
// handles EdDSA signatures) in a new GnuPG home and exports its public key.
func sigNewGPGKey(t *testing.T, name string) sigGPGKey {
	t.Helper()
	dir := t.TempDir()
	k := sigGPGKey{home: filepath.Join(dir, "gnupg"), keyring: filepath.Join(dir, "pub.gpg"), keyringDir: filepath.Join(dir, "keyring.d")}
	for _, d := range []string{k.home, k.keyringDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", k.home, "--kill", "all").Run() })
	uid := fmt.Sprintf("%s <%s@example.com>", name, strings.ToLower(name))
	sigRun(t, "gpg", "--batch", "--homedir", k.home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	for _, line := range strings.Split(sigRun(t, "gpg", "--homedir", k.home, "--with-colons", "--list-keys"), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 9 && f[0] == "pub" && k.id == "" {
			k.id = f[4]
		}
		if len(f) > 9 && f[0] == "fpr" && k.fpr == "" {
			k.fpr = f[9]
		}
	}
	if len(k.id) != 16 || len(k.fpr) != 40 {
		t.Fatalf("could not read the new key's ID and fingerprint: %q %q", k.id, k.fpr)
	}
	pub := sigRun(t, "gpg", "--homedir", k.home, "--export", k.id)
	for _, p := range []string{k.keyring, filepath.Join(k.keyringDir, "key.gpg")} {
		if err := os.WriteFile(p, []byte(pub), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// sigRepo makes an archive repository with a small tree and returns its
// path and the tree.
func sigRepo(t *testing.T) (repo, tree string) {
	t.Helper()
	testrepo.RequireTools(t)
	dir := t.TempDir()
	repo, tree = filepath.Join(dir, "repo"), filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 12, Seed: 7})
	testrepo.Init(t, repo, "archive")
	return repo, tree
}

func sigCommit(t *testing.T, repo, branch, tree string, extra ...string) object.Checksum {
	t.Helper()
	return object.MustParseChecksum(testrepo.Commit(t, repo, branch, tree, branch, extra...))
}

func sigCommitMetaPath(repo string, c object.Checksum) string {
	s := c.String()
	return filepath.Join(repo, "objects", s[:2], s[2:]+".commitmeta")
}

// sigShowSays runs `ostree show` with a keyring directory and returns its
// output: the CLI oracle for commit GPG signatures.
func sigShowSays(t *testing.T, repo string, c object.Checksum, keyringDir string) string {
	t.Helper()
	return testrepo.Ostree(t, "show", "--repo="+repo, "--gpg-homedir="+keyringDir, c.String())
}

func TestGPGVerifyCommit(t *testing.T) {
	sigRequireGPG(t)
	key := sigNewGPGKey(t, "Signer")
	other := sigNewGPGKey(t, "Other")
	repoPath, tree := sigRepo(t)
	signed := sigCommit(t, repoPath, "signed", tree, "--gpg-sign="+key.id, "--gpg-homedir="+key.home)
	unsigned := sigCommit(t, repoPath, "unsigned", tree, "--add-detached-metadata-string=note=x")
	if out := sigShowSays(t, repoPath, signed, key.keyringDir); !strings.Contains(out, "Good signature") {
		t.Fatalf("the oracle does not see a good signature:\n%s", out)
	}
	r := open(t, repoPath)

	for _, tc := range []struct{ name, dir, file string }{
		{"keyring file", "", key.keyring},
		{"keyring dir", key.keyringDir, ""},
		{"both", key.keyringDir, key.keyring},
	} {
		v, err := r.VerifyCommitGPG(signed, tc.dir, tc.file)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if v.Valid != 1 || len(v.Signatures) != 1 {
			t.Fatalf("%s: %+v; want one valid signature", tc.name, v)
		}
		s := v.Signatures[0]
		if !s.Valid || s.KeyMissing || s.KeyRevoked || s.SigExpired || s.KeyExpired ||
			s.KeyID != key.id || s.Fingerprint != key.fpr || s.PrimaryFingerprint != key.fpr ||
			s.UserEmail != "signer@example.com" || s.UserName != "Signer" || s.PubkeyAlgo != "EdDSA" ||
			s.Timestamp.IsZero() || !s.Expires.IsZero() || !strings.Contains(s.Summary, "Good signature") {
			t.Fatalf("%s: signature %+v", tc.name, s)
		}
	}

	// Another key's keyring: no error, the signature is listed but not valid.
	v, err := r.VerifyCommitGPG(signed, "", other.keyring)
	if err != nil {
		t.Fatalf("other keyring: %v", err)
	}
	if v.Valid != 0 || len(v.Signatures) != 1 || v.Signatures[0].Valid || !v.Signatures[0].KeyMissing ||
		v.Signatures[0].KeyID != key.id || v.Signatures[0].UserName != "" ||
		!strings.Contains(v.Signatures[0].Summary, "public key not found") {
		t.Fatalf("other keyring: %+v", v)
	}
	// A GnuPG home is not a keyring directory: its keys are in pubring.kbx.
	if v, err := r.VerifyCommitGPG(signed, key.home, ""); err != nil || v.Valid != 0 {
		t.Fatalf("GnuPG home as keyring dir: %+v, %v; want 0 valid", v, err)
	}
	// No keyring given: only the repo's remote keyrings and the global
	// trusted.gpg.d (empty here) count.
	if v, err := r.VerifyCommitGPG(signed, "", ""); err != nil || v.Valid != 0 {
		t.Fatalf("no keyring: %+v, %v; want 0 valid", v, err)
	}

	// No signature at all is an error (with other detached metadata, too).
	_, err = r.VerifyCommitGPG(unsigned, "", key.keyring)
	if !libostree.Is(err, libostree.DomainGPG, libostree.CodeGPGNoSignature) ||
		!strings.Contains(err.Error(), "no signatures found") {
		t.Fatalf("unsigned commit: %v", err)
	}
	parent := sigCommit(t, repoPath, "bare", tree)
	if _, err := r.VerifyCommitGPG(parent, "", key.keyring); !libostree.Is(err, libostree.DomainGPG, libostree.CodeGPGNoSignature) {
		t.Fatalf("commit without detached metadata: %v", err)
	}
	if _, err := r.VerifyCommitGPG(object.Checksum{9}, "", key.keyring); !libostree.IsNotFound(err) {
		t.Fatalf("missing commit: %v", err)
	}
	if _, err := r.VerifyCommitGPG(signed, filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Fatal("missing keyring dir accepted")
	}

	// The GPG signatures in the detached metadata, read generically, are
	// what the CLI prints.
	meta, ok, err := r.ReadCommitMeta(signed)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	sigs, err := sign.DetachedSignatures(meta, libostree.MetadataKeyGPG)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("DetachedSignatures(gpg) = %d, %v", len(sigs), err)
	}
	sigCompareWithCLI(t, repoPath, signed, libostree.MetadataKeyGPG, sigs)
}

// TestGPGVerifyInTransaction: the receiver verifies a pushed commit, staged
// in its open transaction, before committing.
func TestGPGVerifyInTransaction(t *testing.T) {
	sigRequireGPG(t)
	key := sigNewGPGKey(t, "Signer")
	srcPath, tree := sigRepo(t)
	c := sigCommit(t, srcPath, "main", tree, "--gpg-sign="+key.id, "--gpg-homedir="+key.home)
	src := open(t, srcPath)
	names, err := reachable(src, c)
	if err != nil {
		t.Fatal(err)
	}
	d := create(t, libostree.ModeArchive)
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	for _, n := range names {
		if err := txn.CopyObject(src, n); err != nil {
			t.Fatal(err)
		}
	}
	if files := testrepo.ObjectFiles(t, d.Path()); len(files) != 0 {
		t.Fatalf("objects/ not empty before commit: %v", files)
	}
	v, err := d.VerifyCommitGPG(c, key.keyringDir, "")
	if err != nil || v.Valid != 1 {
		t.Fatalf("VerifyCommitGPG in the transaction: %+v, %v", v, err)
	}
	other := sigNewGPGKey(t, "Other")
	if v, err := d.VerifyCommitGPG(c, "", other.keyring); err != nil || v.Valid != 0 {
		t.Fatalf("other key in the transaction: %+v, %v", v, err)
	}
	if err := txn.SetRef("main", c); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if out := sigShowSays(t, d.Path(), c, key.keyringDir); !strings.Contains(out, "Good signature") {
		t.Fatalf("after commit the oracle says:\n%s", out)
	}
}

func TestGPGSignCommit(t *testing.T) {
	sigRequireGPG(t)
	key := sigNewGPGKey(t, "Signer")
	repoPath, tree := sigRepo(t)
	c := sigCommit(t, repoPath, "main", tree, "--add-detached-metadata-string=note=hello")
	r := open(t, repoPath)

	if err := r.SignCommitGPG(c, key.id, key.home); err != nil {
		t.Fatal(err)
	}
	if got := testrepo.RevParse(t, repoPath, "main"); got != c.String() {
		t.Fatalf("signing changed the ref: %s", got)
	}
	if v, err := r.VerifyCommitGPG(c, "", key.keyring); err != nil || v.Valid != 1 {
		t.Fatalf("after SignCommitGPG: %+v, %v", v, err)
	}
	if out := sigShowSays(t, repoPath, c, key.keyringDir); !strings.Contains(out, "Good signature") {
		t.Fatalf("oracle after SignCommitGPG:\n%s", out)
	}
	if out := testrepo.Ostree(t, "show", "--repo="+repoPath, "--print-detached-metadata-key=note", c.String()); !strings.Contains(out, "hello") {
		t.Fatalf("other detached metadata lost: %q", out)
	}
	testrepo.Fsck(t, repoPath)

	// Signing again with the same key: libostree cannot tell that the key
	// already signed (it only looks at *.gpg keyrings in the homedir, and
	// a GnuPG 2 homedir has pubring.kbx), so a second signature is added.
	if err := r.SignCommitGPG(c, key.id, key.home); err != nil {
		t.Fatalf("second SignCommitGPG: %v", err)
	}
	if v, err := r.VerifyCommitGPG(c, "", key.keyring); err != nil || v.Valid != 2 {
		t.Fatalf("after signing twice: %+v, %v; want 2 valid signatures", v, err)
	}
	// With the public key as a *.gpg keyring in the homedir, libostree
	// recognises the key and refuses a duplicate.
	if err := os.WriteFile(filepath.Join(key.home, "pubring.gpg"), mustRead(t, key.keyring), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.SignCommitGPG(c, key.id, key.home); !libostree.Is(err, libostree.DomainIO, libostree.CodeIOExists) {
		t.Fatalf("third SignCommitGPG with pubring.gpg: %v; want G_IO_ERROR_EXISTS", err)
	}
	os.Remove(filepath.Join(key.home, "pubring.gpg"))

	if err := r.SignCommitGPG(c, "0000000000000000", key.home); err == nil || !strings.Contains(err.Error(), "No gpg key found") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := r.SignCommitGPG(object.Checksum{3}, key.id, key.home); err == nil {
		t.Fatal("signing a missing commit succeeded")
	}
	if err := r.SignCommitGPG(c, "", key.home); err == nil {
		t.Fatal("empty key ID accepted")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGPGSignCommitInTransaction: what ostree_repo_sign_commit does while a
// transaction is open on the Repo.
func TestGPGSignCommitInTransaction(t *testing.T) {
	sigRequireGPG(t)
	key := sigNewGPGKey(t, "Signer")
	repoPath, tree := sigRepo(t)
	c := sigCommit(t, repoPath, "main", tree)
	metaFile := sigCommitMetaPath(repoPath, c)

	r := open(t, repoPath)
	txn, _, err := r.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SignCommitGPG(c, key.id, key.home); err != nil {
		t.Fatal(err)
	}
	// Staged: this Repo sees it, objects/ does not have it.
	if _, ok, err := r.ReadCommitMeta(c); err != nil || !ok {
		t.Fatalf("ReadCommitMeta in the transaction: %v %v", ok, err)
	}
	if v, err := r.VerifyCommitGPG(c, "", key.keyring); err != nil || v.Valid != 1 {
		t.Fatalf("VerifyCommitGPG in the transaction: %+v %v", v, err)
	}
	if _, err := os.Stat(metaFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("commitmeta in objects/ before commit: %v", err)
	}
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.ReadCommitMeta(c); err != nil || ok {
		t.Fatalf("ReadCommitMeta after abort: %v %v; want none", ok, err)
	}
	if _, err := os.Stat(metaFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("commitmeta in objects/ after abort: %v", err)
	}

	// The aborted staging directory is resumed by the next transaction:
	// committing it publishes the signature made in the aborted one.
	txn, resumed, err := r.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.ReadCommitMeta(c); !resumed || !ok {
		t.Fatalf("next transaction: resumed=%v, staged signature visible=%v", resumed, ok)
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(metaFile); err != nil {
		t.Fatalf("resumed commit did not publish the staged signature: %v", err)
	}
	if out := sigShowSays(t, repoPath, c, key.keyringDir); !strings.Contains(out, "Good signature") {
		t.Fatalf("oracle:\n%s", out)
	}

	// Signing in a transaction, then committing it.
	c2 := sigCommit(t, repoPath, "second", tree, "--add-detached-metadata-string=note=two")
	txn, _, err = r.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, sigCommitMetaPath(repoPath, c2))
	if err := r.SignCommitGPG(c2, key.id, key.home); err != nil {
		t.Fatal(err)
	}
	if after := mustRead(t, sigCommitMetaPath(repoPath, c2)); !bytes.Equal(before, after) {
		t.Fatal("objects/ commitmeta changed before commit")
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if out := sigShowSays(t, repoPath, c2, key.keyringDir); !strings.Contains(out, "Good signature") {
		t.Fatalf("oracle after commit:\n%s", out)
	}
	testrepo.Fsck(t, repoPath)
}

// sigRemoteCheck pulls ref from repo over file:// into a scratch repo whose
// remote verifies the summary's GPG signature with keyring: the oracle for
// summary.sig. It returns the pull's error and `ostree remote summary`.
func sigRemoteCheck(t *testing.T, repo, keyring, ref string) (string, error) {
	t.Helper()
	scratch := filepath.Join(t.TempDir(), "scratch")
	testrepo.Init(t, scratch, "archive")
	testrepo.Ostree(t, "remote", "add", "--repo="+scratch, "--gpg-import="+keyring,
		"--set=gpg-verify=false", "--set=gpg-verify-summary=true", "origin", "file://"+repo)
	summary, _ := testrepo.OstreeErr("remote", "summary", "--repo="+scratch, "origin")
	_, err := testrepo.OstreeErr("pull", "--repo="+scratch, "origin", ref)
	return summary, err
}

func TestGPGSummary(t *testing.T) {
	sigRequireGPG(t)
	key := sigNewGPGKey(t, "Signer")
	other := sigNewGPGKey(t, "Other")
	repoPath, tree := sigRepo(t)
	c := sigCommit(t, repoPath, "os/main", tree)
	sigCommit(t, repoPath, "os/other", tree, "--add-metadata-string=version=1.2")
	r := open(t, repoPath)

	if _, err := r.ReadSummary(); !libostree.IsNotFound(err) {
		t.Fatalf("ReadSummary before any: %v", err)
	}
	if err := r.SignSummaryGPG([]string{key.id}, key.home); err == nil {
		t.Fatal("signing a missing summary succeeded")
	}
	if err := r.RegenerateSummary(); err != nil {
		t.Fatal(err)
	}
	view := testrepo.Ostree(t, "summary", "--view", "--repo="+repoPath)
	if !strings.Contains(view, "os/main") || !strings.Contains(view, "os/other") || !strings.Contains(view, c.String()) {
		t.Fatalf("ostree summary --view:\n%s", view)
	}
	data, err := r.ReadSummary()
	if err != nil || !bytes.Equal(data, mustRead(t, filepath.Join(repoPath, "summary"))) {
		t.Fatalf("ReadSummary: %d bytes, %v", len(data), err)
	}
	if _, ok, err := r.ReadSummarySig(); ok || err != nil {
		t.Fatalf("summary.sig after regenerate: %v %v", ok, err)
	}

	if err := r.SignSummaryGPG([]string{key.id}, key.home); err != nil {
		t.Fatal(err)
	}
	sig, ok, err := r.ReadSummarySig()
	if err != nil || !ok {
		t.Fatalf("ReadSummarySig: %v %v", ok, err)
	}
	if sigs, err := sign.DetachedSignatures(sig, libostree.MetadataKeyGPG); err != nil || len(sigs) != 1 {
		t.Fatalf("summary.sig gpg signatures: %d %v", len(sigs), err)
	}
	summary, err := sigRemoteCheck(t, repoPath, key.keyring, "os/main")
	if err != nil || !strings.Contains(summary, "Good signature") {
		t.Fatalf("oracle with the right key: pull error %v; remote summary:\n%s", err, summary)
	}
	if _, err := sigRemoteCheck(t, repoPath, other.keyring, "os/main"); err == nil {
		t.Fatal("oracle with another key: pull succeeded")
	}

	// A second key appends; regenerating drops summary.sig.
	if err := r.SignSummaryGPG([]string{other.id}, other.home); err != nil {
		t.Fatal(err)
	}
	sig, _, _ = r.ReadSummarySig()
	if sigs, _ := sign.DetachedSignatures(sig, libostree.MetadataKeyGPG); len(sigs) != 2 {
		t.Fatalf("after a second key: %d signatures", len(sigs))
	}
	if err := r.RegenerateSummary(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.ReadSummarySig(); ok {
		t.Fatal("RegenerateSummary left summary.sig")
	}
	if err := r.SignSummaryGPG(nil, key.home); err == nil {
		t.Fatal("no key IDs accepted")
	}
}

// TestRegenerateSummaryInTransaction: regenerating while a transaction is
// open works, but lists committed refs only.
func TestRegenerateSummaryInTransaction(t *testing.T) {
	repoPath, tree := sigRepo(t)
	c := sigCommit(t, repoPath, "main", tree)
	r := open(t, repoPath)
	txn, _, err := r.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("staged", c); err != nil {
		t.Fatal(err)
	}
	if err := r.RegenerateSummary(); err != nil {
		t.Fatalf("RegenerateSummary in a transaction: %v", err)
	}
	view := testrepo.Ostree(t, "summary", "--view", "--repo="+repoPath)
	if !strings.Contains(view, "main") || strings.Contains(view, "staged") {
		t.Fatalf("summary in the transaction:\n%s", view)
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if view := testrepo.Ostree(t, "summary", "--view", "--repo="+repoPath); strings.Contains(view, "staged") {
		t.Fatalf("commit regenerated the summary (auto-update-summary is off):\n%s", view)
	}
	if err := r.RegenerateSummary(); err != nil {
		t.Fatal(err)
	}
	if view := testrepo.Ostree(t, "summary", "--view", "--repo="+repoPath); !strings.Contains(view, "staged") {
		t.Fatalf("summary after commit:\n%s", view)
	}
}
