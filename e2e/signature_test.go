package e2e

import (
	"bytes"
	"crypto/ed25519"
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

// gpgKey makes a GPG signing key in its own home directory and exports the
// public key to a keyring file.
func gpgKey(t *testing.T, dir, name string) (home, id, keyring string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gpg not found (run ci/setup)")
		}
		t.Skip("gpg not found")
	}
	home = filepath.Join(dir, name+"-gnupg")
	os.MkdirAll(home, 0o700)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("gpg", append([]string{"--batch", "--homedir", home}, args...)...).Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return string(out)
	}
	run("--passphrase", "", "--quick-gen-key", name+" <"+name+"@example.com>", "ed25519", "sign", "never")
	for _, line := range strings.Split(run("--list-keys", "--with-colons"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 4 && f[0] == "pub" {
			id = f[4]
		}
	}
	keyring = filepath.Join(dir, name+".gpg")
	pub, err := exec.Command("gpg", "--homedir", home, "--export", id).Output()
	if err != nil || len(pub) == 0 {
		t.Fatalf("gpg --export: %v", err)
	}
	os.WriteFile(keyring, pub, 0o644)
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	return home, id, keyring
}

func TestReceiverGPGVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30)
	remote := e.remote("archive")
	home, id, keyring := gpgKey(t, e.dir, "builder")
	_, _, otherKeyring := gpgKey(t, e.dir, "stranger")
	conf := e.config("gpg_verify: yes\ngpg_trustedkeys: " + keyring + "\n")

	// Unsigned: rejected, nothing moves.
	before := snap(t, remote)
	r := e.pushEnv(conf, "--json", e.dest(remote), "os/main")
	wantCode(t, r, 1)
	if res := parseJSON(t, r); !strings.Contains(res.Refs[0].Message, "GPG verification failed") {
		t.Fatalf("unsigned commit: %+v", res.Refs)
	}
	unchanged(t, remote, before)

	// Signed by a key the server does not trust: rejected.
	e.commit("os/main", "signed by a stranger", "--gpg-sign="+id, "--gpg-homedir="+home)
	r = e.pushEnv(e.config("gpg_verify: yes\ngpg_trustedkeys: "+otherKeyring+"\n"), e.dest(remote), "os/main")
	wantCode(t, r, 1)
	unchanged(t, remote, before)

	// Signed by the trusted key: lands, signature and all.
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)
	sameRef(t, e.src, remote, "os/main")
	goodSignature(t, e.dir, remote, "os/main", keyring)
}

// goodSignature checks with the ostree CLI that rev in repo carries a good
// GPG signature by the key in keyring.
func goodSignature(t *testing.T, dir, repo, rev, keyring string) {
	t.Helper()
	keydir, err := os.MkdirTemp(dir, "keydir-")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(keyring)
	os.WriteFile(filepath.Join(keydir, "k.gpg"), data, 0o644)
	if out := testrepo.Ostree(t, "show", "--repo="+repo, "--gpg-homedir="+keydir, rev); !strings.Contains(out, "Good signature") {
		t.Fatalf("no good signature by %s on %s:\n%s", keyring, rev, out)
	}
}

func TestReceiverGPGSignsCommitsAndSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30)
	remote := e.remote("archive")
	home, id, keyring := gpgKey(t, e.dir, "server")
	before := testrepo.RevParse(t, e.src, "os/main")
	wantCode(t, e.pushEnv(e.config("gpg_sign: ['"+id+"']\ngpg_homedir: "+home+"\n"), e.dest(remote), "os/main"), 0)
	// The commit is the one pushed (not re-committed), now signed.
	if got := testrepo.RevParse(t, remote, "os/main"); got != before {
		t.Fatalf("remote os/main = %s, pushed %s", got, before)
	}
	goodSignature(t, e.dir, remote, "os/main", keyring)
	// The summary is signed too: a client pulling with gpg-verify-summary
	// accepts it.
	client := filepath.Join(e.dir, "client")
	testrepo.Init(t, client, "bare-user")
	testrepo.Ostree(t, "remote", "add", "--repo="+client, "--gpg-import="+keyring, "--set=gpg-verify-summary=true", "origin", "file://"+remote)
	testrepo.Ostree(t, "pull", "--repo="+client, "origin", "os/main")
	if got, want := testrepo.RevParse(t, client, "origin:os/main"), testrepo.RevParse(t, remote, "os/main"); got == "" || got != want {
		t.Fatalf("pulled origin:os/main = %q, remote os/main = %q", got, want)
	}
}

// signEd25519 adds an ed25519 signature of the commit to its detached
// metadata in repo, as `ostree sign` would.
func signEd25519(t *testing.T, repoPath, rev string, key ed25519.PrivateKey) {
	t.Helper()
	repo, err := libostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	c, _, err := repo.ResolveRev(rev)
	if err != nil {
		t.Fatal(err)
	}
	data, err := repo.ReadMetadata(object.Name{Checksum: c, Type: object.Commit})
	if err != nil {
		t.Fatal(err)
	}
	meta, _, err := repo.ReadCommitMeta(c)
	if err != nil {
		t.Fatal(err)
	}
	meta, err = sign.AppendDetachedSignature(meta, sign.MetadataKeyEd25519, sign.SignEd25519(key, data))
	if err != nil {
		t.Fatal(err)
	}
	txn, _, err := repo.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteMetadata(object.Name{Checksum: c, Type: object.CommitMeta}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
}

func edKey(t *testing.T, dir, name string, seed byte) (ed25519.PrivateKey, string, string) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	pub := filepath.Join(dir, name+".pub")
	sec := filepath.Join(dir, name+".sec")
	os.WriteFile(pub, []byte(sign.EncodeKey(key.Public().(ed25519.PublicKey))+"\n"), 0o644)
	os.WriteFile(sec, []byte(sign.EncodeKey(key)+"\n"), 0o600)
	return key, pub, sec
}

func TestReceiverEd25519(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30)
	remote := e.remote("archive")
	builder, builderPub, _ := edKey(t, e.dir, "builder", 1)
	stranger, _, _ := edKey(t, e.dir, "stranger", 2)
	_, serverPub, serverSec := edKey(t, e.dir, "server", 3)
	conf := e.config("sign_verify: yes\nsign_trustedkeyfile: " + builderPub + "\nsign_keyfiles: [" + serverSec + "]\n")

	before := snap(t, remote)
	r := e.pushEnv(conf, "--json", e.dest(remote), "os/main")
	wantCode(t, r, 1)
	if res := parseJSON(t, r); !strings.Contains(res.Refs[0].Message, "ed25519") {
		t.Fatalf("unsigned commit: %+v", res.Refs)
	}
	signEd25519(t, e.src, "os/main", stranger)
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 1)
	unchanged(t, remote, before)

	signEd25519(t, e.src, "os/main", builder)
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)
	sameRef(t, e.src, remote, "os/main")

	// The server added its own signature to the commit and signed the
	// summary with sign_keyfiles.
	repo, err := libostree.Open(remote)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	c, _, _ := repo.ResolveRev("os/main")
	commit, _ := repo.ReadMetadata(object.Name{Checksum: c, Type: object.Commit})
	meta, _, _ := repo.ReadCommitMeta(c)
	sigs, err := sign.DetachedSignatures(meta, sign.MetadataKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	server, err := sign.LoadEd25519PublicKeys(serverPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Verify(commit, sigs); err != nil || len(sigs) != 3 {
		t.Fatalf("server signature on the commit: %d signatures, %v", len(sigs), err)
	}
	summary, err := repo.ReadSummary()
	if err != nil {
		t.Fatal(err)
	}
	sumsig, ok, err := repo.ReadSummarySig()
	if err != nil || !ok {
		t.Fatalf("summary.sig: %v %v", ok, err)
	}
	ssigs, err := sign.DetachedSignatures(sumsig, sign.MetadataKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Verify(summary, ssigs); err != nil {
		t.Fatalf("summary signature: %v", err)
	}
}

// TestLateSignatures: a commit signed after it was published (a second
// signer) is pushed again: the ref is up to date and only the detached
// metadata travels; the server merges the new signature into what it has
// (its own signature and the first signer's stay, even when the client's
// copy lacks them), checks the result under gpg_verify, regenerates the
// summary, and the report says "signatures updated", in a dry run too
// (which changes nothing).
func TestLateSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30)
	remote := e.remote("archive")
	homeA, idA, keyringA := gpgKey(t, e.dir, "builder")
	homeB, idB, keyringB := gpgKey(t, e.dir, "releaser")
	homeS, idS, keyringS := gpgKey(t, e.dir, "server")
	trusted := filepath.Join(e.dir, "trusted.gpg")
	a, _ := os.ReadFile(keyringA)
	b, _ := os.ReadFile(keyringB)
	os.WriteFile(trusted, append(a, b...), 0o644)
	conf := e.config("gpg_verify: yes\ngpg_trustedkeys: " + trusted + "\ngpg_sign: ['" + idS + "']\ngpg_homedir: " + homeS + "\n")
	e.commit("os/main", "signed by the builder", "--gpg-sign="+idA, "--gpg-homedir="+homeA)
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)
	goodSignature(t, e.dir, remote, "os/main", keyringA)
	goodSignature(t, e.dir, remote, "os/main", keyringS)

	// The release manager signs the published commit.
	testrepo.Ostree(t, "gpg-sign", "--repo="+e.src, "--gpg-homedir="+homeB, "os/main", idB)

	before := snap(t, remote)
	r := e.pushEnv(conf, "--dry-run", "--json", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if res := parseJSON(t, r); len(res.Refs) != 1 || res.Refs[0].Status != "up-to-date" || !res.Refs[0].Signed || !res.DryRun {
		t.Fatalf("dry run: %+v", res)
	}
	unchanged(t, remote, before)

	summary := filepath.Join(remote, "summary")
	st, err := os.Stat(summary)
	if err != nil {
		t.Fatal(err)
	}
	r = e.pushEnv(conf, e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "= [up to date, signatures updated] os/main") || !strings.Contains(r.stderr, "sent 1 objects") {
		t.Fatalf("push of a new signature:\n%s", r.stderr)
	}
	for _, k := range []string{keyringA, keyringB, keyringS} {
		goodSignature(t, e.dir, remote, "os/main", k)
	}
	if st2, err := os.Stat(summary); err != nil || !st2.ModTime().After(st.ModTime()) {
		t.Errorf("the summary was not regenerated (%v)", err)
	}
	testrepo.Ostree(t, "fsck", "--repo="+remote)

	// Pushed again: nothing to send.
	r = e.pushEnv(conf, "--json", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if res := parseJSON(t, r); res.Refs[0].Status != "up-to-date" || res.Refs[0].Signed || res.ObjectsSent != 0 {
		t.Fatalf("pushed again: %+v", res)
	}

	// The builder's signature removed locally: the push cannot remove it
	// on the server, where nothing changes.
	testrepo.Ostree(t, "gpg-sign", "--delete", "--repo="+e.src, "--gpg-homedir="+homeA, "os/main", idA)
	before = snap(t, remote)
	r = e.pushEnv(conf, "--json", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if res := parseJSON(t, r); res.Refs[0].Status != "up-to-date" || res.Refs[0].Signed {
		t.Fatalf("a signature removed locally: %+v", res)
	}
	goodSignature(t, e.dir, remote, "os/main", keyringA)
	unchanged(t, remote, before)
}
