package libostree_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
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

// sigRFCKey is RFC 8032 section 7.1 TEST 1's key.
func sigRFCKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		t.Fatal(err)
	}
	k := ed25519.NewKeyFromSeed(seed)
	if hex.EncodeToString(k.Public().(ed25519.PublicKey)) != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Fatal("RFC 8032 TEST 1 key does not match")
	}
	return k
}

var sigHexByte = regexp.MustCompile(`0x([0-9a-f]{2})`)

// sigParseAAY parses how `ostree show --print-detached-metadata-key` prints
// an aay: "[[byte 0x01, 0x02, …], [0x03, …]]", where GLib prints an ay
// that ends in its only NUL as a bytestring instead: b'…' (or b"…"), C
// escapes, the final NUL left out. (A random signature is one now and then.)
func sigParseAAY(out string) ([][]byte, error) {
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "[") || !strings.HasSuffix(out, "]") {
		return nil, fmt.Errorf("not an aay: %q", out)
	}
	rest := out[1 : len(out)-1]
	var sigs [][]byte
	for {
		rest = strings.TrimLeft(rest, " ,")
		if rest == "" {
			return sigs, nil
		}
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ay in %q", out)
			}
			var b []byte
			for _, m := range sigHexByte.FindAllStringSubmatch(rest[:end], -1) {
				v, _ := hex.DecodeString(m[1])
				b = append(b, v...)
			}
			sigs = append(sigs, b)
			rest = rest[end+1:]
		case len(rest) > 1 && rest[0] == 'b' && (rest[1] == '\'' || rest[1] == '"'):
			b, n, err := sigParseByteString(rest[1:])
			if err != nil {
				return nil, fmt.Errorf("%v in %q", err, out)
			}
			sigs = append(sigs, append(b, 0))
			rest = rest[1+n:]
		default:
			return nil, fmt.Errorf("not an aay: %q", out)
		}
	}
}

// sigParseByteString parses a quoted bytestring body (s starts with the
// quote) and returns its bytes and the length of s it took.
func sigParseByteString(s string) ([]byte, int, error) {
	q := s[0]
	var b []byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b, i + 1, nil
		case c != '\\':
			b = append(b, c)
			continue
		}
		i++
		if i == len(s) {
			break
		}
		switch e := s[i]; e {
		case 'a':
			b = append(b, 7)
		case 'b':
			b = append(b, 8)
		case 'f':
			b = append(b, 12)
		case 'n':
			b = append(b, 10)
		case 'r':
			b = append(b, 13)
		case 't':
			b = append(b, 9)
		case 'v':
			b = append(b, 11)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, k := 0, 0
			for ; k < 3 && i+k < len(s) && s[i+k] >= '0' && s[i+k] <= '7'; k++ {
				v = v*8 + int(s[i+k]-'0')
			}
			b = append(b, byte(v))
			i += k - 1
		default:
			b = append(b, e) // \\, \', \"
		}
	}
	return nil, 0, errors.New("unterminated bytestring")
}

func TestSigParseAAY(t *testing.T) {
	got, err := sigParseAAY(`[[byte 0x01, 0x02], b'p\367\v\\\'x', [0x03]]`)
	want := [][]byte{{1, 2}, {'p', 0o367, 11, '\\', '\'', 'x', 0}, {3}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %q, %v", got, err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("element %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// sigCompareWithCLI checks that the CLI prints exactly want at key.
func sigCompareWithCLI(t *testing.T, repo string, c object.Checksum, key string, want [][]byte) {
	t.Helper()
	out := testrepo.Ostree(t, "show", "--repo="+repo, "--print-detached-metadata-key="+key, c.String())
	got, err := sigParseAAY(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ostree show prints %d signatures at %s, want %d", len(got), key, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("signature %d at %s: ostree show prints %x, want %x", i, key, got[i], want[i])
		}
	}
}

func TestDetachedSignatureHelpers(t *testing.T) {
	sig1, sig2 := bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 5)
	for _, empty := range [][]byte{nil, {}} {
		if sigs, err := sign.DetachedSignatures(empty, sign.MetadataKeyEd25519); err != nil || sigs != nil {
			t.Fatalf("DetachedSignatures(empty) = %v, %v", sigs, err)
		}
		meta, err := sign.AppendDetachedSignature(empty, sign.MetadataKeyEd25519, sig1)
		if err != nil {
			t.Fatal(err)
		}
		meta, err = sign.AppendDetachedSignature(meta, sign.MetadataKeyEd25519, sig2)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := sign.DetachedSignatures(meta, sign.MetadataKeyEd25519)
		if err != nil || len(sigs) != 2 || !bytes.Equal(sigs[0], sig1) || !bytes.Equal(sigs[1], sig2) {
			t.Fatalf("after two appends: %x, %v", sigs, err)
		}
		if other, err := sign.DetachedSignatures(meta, libostree.MetadataKeyGPG); err != nil || other != nil {
			t.Fatalf("absent key: %v %v", other, err)
		}
		// An empty signature is an element too.
		meta, err = sign.AppendDetachedSignature(meta, "x", nil)
		if sigs, _ := sign.DetachedSignatures(meta, "x"); err != nil || len(sigs) != 1 || len(sigs[0]) != 0 {
			t.Fatalf("empty element: %v %v", sigs, err)
		}
		// Removing a key keeps the others in their order.
		without, err := sign.RemoveDetachedMetadataKey(meta, sign.MetadataKeyEd25519)
		if err != nil {
			t.Fatal(err)
		}
		if want := mustAppend(t, empty, "x", nil); !bytes.Equal(without, want) {
			t.Fatalf("RemoveDetachedMetadataKey: %x, want %x", without, want)
		}
		if none, err := sign.RemoveDetachedMetadataKey(without, "x"); err != nil || len(none) != 0 {
			t.Fatalf("removing the last key: %x, %v", none, err)
		}
	}
	for name, bad := range map[string][]byte{
		"garbage":       []byte("not a gvariant"),
		"one byte":      {0},
		"truncated":     mustAppend(t, nil, "k", sig1)[:40],
		"bad framing":   append(mustAppend(t, nil, "k", sig1), 0xff),
		"key not a str": func() []byte { m := mustAppend(t, nil, "k", sig1); m[0] = 0xff; return m }(),
	} {
		if _, err := sign.DetachedSignatures(bad, "k"); err == nil {
			t.Errorf("%s: DetachedSignatures accepted %x", name, bad)
		}
		if _, err := sign.AppendDetachedSignature(bad, "k", sig1); err == nil {
			t.Errorf("%s: AppendDetachedSignature accepted %x", name, bad)
		}
		if _, err := sign.RemoveDetachedMetadataKey(bad, "k"); err == nil {
			t.Errorf("%s: RemoveDetachedMetadataKey accepted %x", name, bad)
		}
	}
}

func mustAppend(t *testing.T, meta []byte, key string, sig []byte) []byte {
	t.Helper()
	out, err := sign.AppendDetachedSignature(meta, key, sig)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEd25519CommitSignature writes an ed25519 signature made in Go into a
// commit's detached metadata through a transaction, and reads it back.
func TestEd25519CommitSignature(t *testing.T) {
	repoPath, tree := sigRepo(t)
	c := sigCommit(t, repoPath, "main", tree, "--add-detached-metadata-string=note=hello")
	key := sigRFCKey(t)
	pub := key.Public().(ed25519.PublicKey)
	r := open(t, repoPath)

	commitBytes, err := r.ReadMetadata(object.Name{Type: object.Commit, Checksum: c})
	if err != nil {
		t.Fatal(err)
	}
	sig := sign.SignEd25519(key, commitBytes)
	meta, ok, err := r.ReadCommitMeta(c)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// A key that holds something else is refused, not replaced.
	if _, err := sign.DetachedSignatures(meta, "note"); err == nil || !strings.Contains(err.Error(), "not aay") {
		t.Fatalf("DetachedSignatures(note) = %v", err)
	}
	if _, err := sign.AppendDetachedSignature(meta, "note", sig); err == nil {
		t.Fatal("AppendDetachedSignature over a string value succeeded")
	}
	newMeta, err := sign.AppendDetachedSignature(meta, sign.MetadataKeyEd25519, sig)
	if err != nil {
		t.Fatal(err)
	}
	txn, _, err := r.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteMetadata(object.Name{Type: object.CommitMeta, Checksum: c}, newMeta); err != nil {
		txn.Abort()
		t.Fatalf("WriteMetadata(commitmeta) refused AppendDetachedSignature's output: %v", err)
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := testrepo.RevParse(t, repoPath, "main"); got != c.String() {
		t.Fatalf("ref moved: %s", got)
	}
	testrepo.Fsck(t, repoPath)

	// Read back through a fresh Repo and verify in Go.
	r2 := open(t, repoPath)
	stored, ok, err := r2.ReadCommitMeta(c)
	if err != nil || !ok || !bytes.Equal(stored, newMeta) {
		t.Fatalf("stored detached metadata differs from what was written: %v %v", ok, err)
	}
	sigs, err := sign.DetachedSignatures(stored, sign.MetadataKeyEd25519)
	if err != nil || len(sigs) != 1 || !bytes.Equal(sigs[0], sig) {
		t.Fatalf("DetachedSignatures = %x, %v", sigs, err)
	}
	v := sign.NewEd25519Verifier([]ed25519.PublicKey{pub}, nil)
	data, err := r2.ReadMetadata(object.Name{Type: object.Commit, Checksum: c})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := v.Verify(data, sigs); err != nil || k != sign.EncodeKey(pub) {
		t.Fatalf("Verify = %q, %v", k, err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	if _, err := sign.NewEd25519Verifier([]ed25519.PublicKey{otherPub}, nil).Verify(data, sigs); !errors.Is(err, sign.ErrNoValidSignature) {
		t.Fatalf("another key verified: %v", err)
	}
	// The CLI oracle: same bytes at the key, other metadata untouched.
	sigCompareWithCLI(t, repoPath, c, sign.MetadataKeyEd25519, [][]byte{sig})
	if out := testrepo.Ostree(t, "show", "--repo="+repoPath, "--print-detached-metadata-key=note", c.String()); !strings.Contains(out, "hello") {
		t.Fatalf("note lost: %q", out)
	}

	// A second signature (another key) is appended after the first.
	_, key2, _ := ed25519.GenerateKey(nil)
	sig2 := sign.SignEd25519(key2, data)
	meta2, err := sign.AppendDetachedSignature(stored, sign.MetadataKeyEd25519, sig2)
	if err != nil {
		t.Fatal(err)
	}
	txn, _, err = r2.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteMetadata(object.Name{Type: object.CommitMeta, Checksum: c}, meta2); err != nil {
		txn.Abort()
		t.Fatal(err)
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	sigCompareWithCLI(t, repoPath, c, sign.MetadataKeyEd25519, [][]byte{sig, sig2})
	v2 := sign.NewEd25519Verifier([]ed25519.PublicKey{key2.Public().(ed25519.PublicKey)}, nil)
	if _, err := v2.Verify(data, [][]byte{sig, sig2}); err != nil {
		t.Fatal(err)
	}

	t.Run("ostree sign", func(t *testing.T) { sigCheckOstreeSign(t, repoPath, c, key, [][]byte{sig, sig2}) })
	t.Run("with GPG", func(t *testing.T) {
		sigRequireGPG(t)
		gk := sigNewGPGKey(t, "Signer")
		before, _, err := r2.ReadCommitMeta(c)
		if err != nil {
			t.Fatal(err)
		}
		edBefore, err := sign.DetachedSignatures(before, sign.MetadataKeyEd25519)
		if err != nil || len(edBefore) < 2 {
			t.Fatalf("ed25519 signatures before GPG signing: %d %v", len(edBefore), err)
		}
		if err := r2.SignCommitGPG(c, gk.id, gk.home); err != nil {
			t.Fatal(err)
		}
		meta, _, err := r2.ReadCommitMeta(c)
		if err != nil {
			t.Fatal(err)
		}
		if sigs, err := sign.DetachedSignatures(meta, sign.MetadataKeyEd25519); err != nil || !reflect.DeepEqual(sigs, edBefore) {
			t.Fatalf("libostree's GPG signing changed the ed25519 signatures: %d %v", len(sigs), err)
		}
		if out := testrepo.Ostree(t, "show", "--repo="+repoPath, "--print-detached-metadata-key=note", c.String()); !strings.Contains(out, "hello") {
			t.Fatalf("note lost: %q", out)
		}
		if v, err := r2.VerifyCommitGPG(c, "", gk.keyring); err != nil || v.Valid != 1 {
			t.Fatalf("GPG next to ed25519: %+v %v", v, err)
		}
	})
}

// sigCheckOstreeSign compares with `ostree sign` when this machine's
// libostree has ed25519 (built with libsodium). Debian 12's has not: then
// the check is skipped, even under CI, and says why.
func sigCheckOstreeSign(t *testing.T, repoPath string, c object.Checksum, key ed25519.PrivateKey, want [][]byte) {
	help, _ := testrepo.OstreeErr("sign", "--help")
	if !strings.Contains(help, "--keys-file") {
		_, err := testrepo.OstreeErr("sign", "--repo="+repoPath, "--verify", c.String())
		t.Skipf("ostree sign has no ed25519 support here (libostree %s built without libsodium: no --keys-file; `ostree sign --verify` says: %v)",
			libostree.BuildVersion, err)
	}
	pubFile := filepath.Join(t.TempDir(), "trusted.ed25519")
	if err := os.WriteFile(pubFile, []byte(sign.EncodeKey(key.Public().(ed25519.PublicKey))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testrepo.OstreeErr("sign", "--repo="+repoPath, "--verify", "--keys-file="+pubFile, c.String())
	if err != nil || !strings.Contains(out, "verified successfully") {
		t.Fatalf("ostree sign --verify: %v\n%s", err, out)
	}
	// ed25519 is deterministic: the signature libsodium appends must be
	// byte for byte the one pkg/sign made with the same key.
	testrepo.Ostree(t, "sign", "--repo="+repoPath, c.String(), sign.EncodeKey(key))
	r := open(t, repoPath)
	meta, _, err := r.ReadCommitMeta(c)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := sign.DetachedSignatures(meta, sign.MetadataKeyEd25519)
	if err != nil || len(sigs) != len(want)+1 || !bytes.Equal(sigs[len(want)], want[0]) {
		t.Fatalf("after ostree sign: %x (%v); want %x appended", sigs, err, want[0])
	}
}

// TestEd25519Summary signs the summary in Go and stores the signature in
// summary.sig next to libostree's GPG signatures.
func TestEd25519Summary(t *testing.T) {
	repoPath, tree := sigRepo(t)
	sigCommit(t, repoPath, "main", tree)
	r := open(t, repoPath)
	if err := r.RegenerateSummary(); err != nil {
		t.Fatal(err)
	}
	key := sigRFCKey(t)
	pub := key.Public().(ed25519.PublicKey)
	v := sign.NewEd25519Verifier([]ed25519.PublicKey{pub}, nil)

	summary, err := r.ReadSummary()
	if err != nil {
		t.Fatal(err)
	}
	sig := sign.SignEd25519(key, summary)
	if err := writeSummarySignatures(r, sign.MetadataKeyEd25519, [][]byte{sig}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(repoPath, "summary.sig"))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("summary.sig: %v %v", st, err)
	}
	entries, _ := os.ReadDir(repoPath)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
	raw, ok, err := r.ReadSummarySig()
	if err != nil || !ok || !bytes.Equal(raw, mustRead(t, filepath.Join(repoPath, "summary.sig"))) {
		t.Fatalf("ReadSummarySig: %v %v", ok, err)
	}
	sigs, err := sign.DetachedSignatures(raw, sign.MetadataKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := v.Verify(summary, sigs); err != nil || k != sign.EncodeKey(pub) {
		t.Fatalf("Verify(summary) = %q, %v", k, err)
	}
	// The summary as served must be what was signed.
	if _, err := v.Verify(append(summary, 0), sigs); err == nil {
		t.Fatal("signature verified over other bytes")
	}

	// Writing again replaces the value at the key.
	_, key2, _ := ed25519.GenerateKey(nil)
	sig2 := sign.SignEd25519(key2, summary)
	if err := writeSummarySignatures(r, sign.MetadataKeyEd25519, [][]byte{sig2}); err != nil {
		t.Fatal(err)
	}
	raw, _, _ = r.ReadSummarySig()
	if sigs, _ := sign.DetachedSignatures(raw, sign.MetadataKeyEd25519); len(sigs) != 1 || !bytes.Equal(sigs[0], sig2) {
		t.Fatalf("after rewrite: %x", sigs)
	}
	if err := writeSummarySignatures(r, sign.MetadataKeyEd25519, nil); err == nil {
		t.Fatal("no signatures accepted")
	}

	t.Run("with GPG", func(t *testing.T) {
		sigRequireGPG(t)
		gk := sigNewGPGKey(t, "Signer")
		if err := r.RegenerateSummary(); err != nil {
			t.Fatal(err)
		}
		summary, err := r.ReadSummary()
		if err != nil {
			t.Fatal(err)
		}
		sig := sign.SignEd25519(key, summary)
		// ed25519 first, then libostree's GPG signing merges into it.
		if err := writeSummarySignatures(r, sign.MetadataKeyEd25519, [][]byte{sig}); err != nil {
			t.Fatal(err)
		}
		if err := r.SignSummaryGPG([]string{gk.id}, gk.home); err != nil {
			t.Fatal(err)
		}
		raw, _, _ := r.ReadSummarySig()
		ed, err := sign.DetachedSignatures(raw, sign.MetadataKeyEd25519)
		if err != nil || len(ed) != 1 || !bytes.Equal(ed[0], sig) {
			t.Fatalf("SignSummaryGPG lost the ed25519 signature: %x %v", ed, err)
		}
		gpgSigs, err := sign.DetachedSignatures(raw, libostree.MetadataKeyGPG)
		if err != nil || len(gpgSigs) != 1 {
			t.Fatalf("gpg signatures: %d %v", len(gpgSigs), err)
		}
		// Then rewriting ed25519 keeps the GPG signature, byte for byte, and
		// the GPG oracle still accepts summary.sig.
		if err := writeSummarySignatures(r, sign.MetadataKeyEd25519, [][]byte{sig, sig}); err != nil {
			t.Fatal(err)
		}
		raw, _, _ = r.ReadSummarySig()
		after, err := sign.DetachedSignatures(raw, libostree.MetadataKeyGPG)
		if err != nil || len(after) != 1 || !bytes.Equal(after[0], gpgSigs[0]) {
			t.Fatalf("WriteSummarySignatures changed the GPG signature: %v", err)
		}
		if ed, _ := sign.DetachedSignatures(raw, sign.MetadataKeyEd25519); len(ed) != 2 {
			t.Fatalf("ed25519 signatures: %d", len(ed))
		}
		if _, err := v.Verify(summary, ed); err != nil {
			t.Fatal(err)
		}
		out, err := sigRemoteCheck(t, repoPath, gk.keyring, "main")
		if err != nil || !strings.Contains(out, "Good signature") {
			t.Fatalf("GPG oracle after merging: %v\n%s", err, out)
		}
	})
}

func TestSignClosedRepo(t *testing.T) {
	repoPath, _ := sigRepo(t)
	r, err := libostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	c := object.Checksum{1}
	for name, err := range map[string]error{
		"VerifyCommitGPG": func() error { _, err := r.VerifyCommitGPG(c, "", ""); return err }(),
		"SignCommitGPG":   r.SignCommitGPG(c, "k", ""),
		"Regenerate":      r.RegenerateSummary(),
		"SignSummaryGPG":  r.SignSummaryGPG([]string{"k"}, ""),
		"ReadSummary":     func() error { _, err := r.ReadSummary(); return err }(),
		"WriteSummarySig": r.WriteSummarySig([]byte{}),
	} {
		if !errors.Is(err, libostree.ErrClosed) {
			t.Errorf("%s on a closed repo: %v", name, err)
		}
	}
}

// TestCommitBindings reads the ref and collection bindings ostree commit
// writes, and refuses bytes that are not a commit.
func TestCommitBindings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "repo")
	tree := filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 3, Seed: 1})
	testrepo.Init(t, path, "archive", "--collection-id=org.example.Os")
	bound := testrepo.Commit(t, path, "os/testing", tree, "bound", "--bind-ref=os/extra")
	unbound := testrepo.Commit(t, path, "os/loose", tree, "unbound", "--no-bindings")
	r, err := libostree.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func(c string) sign.Bindings {
		t.Helper()
		data, err := r.ReadMetadata(object.Name{Checksum: object.MustParseChecksum(c), Type: object.Commit})
		if err != nil {
			t.Fatal(err)
		}
		b, err := sign.CommitBindings(data)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := read(bound); !b.HasRefs || strings.Join(b.Refs, " ") != "os/extra os/testing" && strings.Join(b.Refs, " ") != "os/testing os/extra" || b.Collection != "org.example.Os" {
		t.Errorf("bound commit: %+v", b)
	}
	if b := read(unbound); b.HasRefs || len(b.Refs) != 0 || b.Collection != "" {
		t.Errorf("commit made with --no-bindings: %+v", b)
	}
	for _, bad := range [][]byte{nil, []byte("not a commit"), {0}} {
		if b, err := sign.CommitBindings(bad); err == nil {
			t.Errorf("CommitBindings(%q) = %+v, want an error", bad, b)
		}
	}
}

// writeSummarySignatures sets key in summary.sig to sigs, keeping its
// other keys, as ostree-receive does.
func writeSummarySignatures(r *libostree.Repo, key string, sigs [][]byte) error {
	if len(sigs) == 0 {
		return errors.New("no signatures")
	}
	old, _, err := r.ReadSummarySig()
	if err != nil {
		return err
	}
	data, err := sign.SetDetachedSignatures(old, key, sigs)
	if err != nil {
		return err
	}
	return r.WriteSummarySig(data)
}
