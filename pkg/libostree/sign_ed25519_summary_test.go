package libostree_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
)

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
