package receive

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// noUserKeys points the per-user trusted key locations at an empty
// directory, so that only what a test configures counts.
func noUserKeys(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("HOME", dir)
}

// keyFiles writes a public key file for pub and a secret key file for
// priv into dir.
func keyFiles(t *testing.T, dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) (public, secret string) {
	t.Helper()
	public, secret = filepath.Join(dir, "trusted.ed25519"), filepath.Join(dir, "secret.ed25519")
	if err := os.WriteFile(public, []byte(sign.EncodeKey(pub)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte(sign.EncodeKey(priv)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return public, secret
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// TestPolicySettings: which settings turn on which parts of the policy,
// and which key files missing make it fail before anything is written.
func TestPolicySettings(t *testing.T) {
	noUserKeys(t)
	dir := t.TempDir()
	pub, priv := newKey(t)
	public, secret := keyFiles(t, dir, pub, priv)
	missing := filepath.Join(dir, "missing")
	systemKeys := false
	for _, p := range []string{"/usr/share/ostree/trusted.ed25519", "/usr/share/ostree/trusted.ed25519.d",
		"/etc/ostree/trusted.ed25519", "/etc/ostree/trusted.ed25519.d", "/etc/ostree/ostree-receive-trustedkeyfile.ed25519"} {
		if _, err := os.Stat(p); err == nil {
			systemKeys = true
		}
	}

	type parts struct{ verify, detached, before, after, unlock bool }
	for _, tc := range []struct {
		name    string
		set     receiveconfig.Repo
		want    parts
		wantErr string // a substring; "" for none
	}{
		// before: notes whether the summary was current (SummaryCurrent).
		{"defaults", receiveconfig.Repo{Update: receiveconfig.UpdateAuto}, parts{detached: true, before: true, after: true}, ""},
		{"update off", receiveconfig.Repo{Update: receiveconfig.UpdateNo}, parts{detached: true}, ""},
		{"metadata rewrite allowed", receiveconfig.Repo{Update: receiveconfig.UpdateNo, AllowMetadataRewrite: true}, parts{detached: true}, ""},
		{"static deltas without update", receiveconfig.Repo{Update: receiveconfig.UpdateNo, StaticDeltas: true}, parts{detached: true, after: true}, ""},
		{"hook instead of the summary", receiveconfig.Repo{Update: receiveconfig.UpdateAuto, UpdateHook: "/bin/true"}, parts{detached: true, unlock: true}, ""},
		{"hook with update off is not run", receiveconfig.Repo{Update: receiveconfig.UpdateNo, UpdateHook: "/bin/true"}, parts{detached: true}, ""},
		{"systemd unit", receiveconfig.Repo{Update: receiveconfig.UpdateNo, SystemdUnit: "x@.service"}, parts{detached: true, unlock: true}, ""},
		{"gpg_sign", receiveconfig.Repo{Update: receiveconfig.UpdateNo, GPGSign: []string{"ABCD"}}, parts{detached: true, before: true}, ""},
		{"sign_keyfiles", receiveconfig.Repo{Update: receiveconfig.UpdateNo, SignKeyfiles: []string{secret}}, parts{detached: true, before: true}, ""},
		{"sign_keyfiles missing", receiveconfig.Repo{SignKeyfiles: []string{missing}}, parts{}, "sign_keyfiles"},
		{"sign_keyfiles not a key", receiveconfig.Repo{SignKeyfiles: []string{public + "x"}}, parts{}, "sign_keyfiles"},
		{"sign_verify", receiveconfig.Repo{Update: receiveconfig.UpdateNo, SignVerify: true, SignTrustedKeyfile: public}, parts{verify: true, detached: true}, ""},
		{"sign_verify, key file missing", receiveconfig.Repo{SignVerify: true, SignTrustedKeyfile: missing}, parts{}, "sign_trustedkeyfile"},
		{"gpg_verify, keyring missing", receiveconfig.Repo{GPGVerify: true, GPGTrustedKeys: missing}, parts{}, "gpg_trustedkeys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{settings: tc.set, log: pushlog.New(io.Discard, pushlog.Error, true), path: dir}
			p, err := s.policy()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("policy() error %v, want one about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := parts{p.VerifyCommit != nil, p.DetachedMetadata != nil, p.BeforeCommit != nil, p.AfterCommit != nil, p.AfterUnlock != nil}
			if got != tc.want {
				t.Errorf("policy parts %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("sign_verify without any key file", func(t *testing.T) {
		if systemKeys {
			t.Skip("this machine has system-wide trusted ed25519 keys")
		}
		s := &server{settings: receiveconfig.Repo{SignVerify: true}, log: pushlog.New(io.Discard, pushlog.Error, true)}
		if _, err := s.policy(); err == nil || !strings.Contains(err.Error(), "no trusted ed25519 key file") {
			t.Errorf("policy() error %v", err)
		}
	})
	t.Run("sign_verify finds the user's key file", func(t *testing.T) {
		user := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "ostree", "ostree-receive-trustedkeyfile.ed25519")
		if err := os.MkdirAll(filepath.Dir(user), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(user, []byte(sign.EncodeKey(pub)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(user)
		s := &server{settings: receiveconfig.Repo{SignVerify: true}, log: pushlog.New(io.Discard, pushlog.Error, true)}
		if _, err := s.policy(); err != nil {
			t.Fatal(err)
		}
		if s.verifier == nil || len(s.verifier.Keys()) == 0 || !bytes.Equal(s.verifier.Keys()[0], pub) {
			t.Errorf("the verifier does not trust the user's key")
		}
	})

	t.Run("limits pass through", func(t *testing.T) {
		s := &server{settings: receiveconfig.Repo{MaxPushSize: 1 << 20, MaxRefs: 7, DryRun: true, Force: true, DenyNonFastForward: true},
			log: pushlog.New(io.Discard, pushlog.Error, true)}
		p, err := s.policy()
		if err != nil {
			t.Fatal(err)
		}
		if p.MaxPushSize != 1<<20 || p.MaxRefs != 7 || !p.DryRun || !p.ForceAll || !p.DenyNonFastForward {
			t.Errorf("policy %+v", p)
		}
	})
}

// TestPolicyCheckRef: allow_refs, deny_refs and deny_deletes, applied to
// plain refs and to collection refs, to updates and deletions.
func TestPolicyCheckRef(t *testing.T) {
	c := object.Checksum{1}
	plainRef := func(name string) wire.RefName { return wire.RefName{Name: name} }
	coll := func(id, name string) wire.RefName { return wire.RefName{CollectionID: id, Name: name} }
	for _, tc := range []struct {
		name    string
		set     receiveconfig.Repo
		ref     wire.RefName
		delete  bool
		wantErr string
	}{
		{"no rules", receiveconfig.Repo{}, plainRef("anything/at/all"), false, ""},
		{"no rules, delete", receiveconfig.Repo{}, plainRef("main"), true, ""},
		{"deny_deletes, delete", receiveconfig.Repo{DenyDeletes: true}, plainRef("main"), true, "denies deleting"},
		{"deny_deletes, update", receiveconfig.Repo{DenyDeletes: true}, plainRef("main"), false, ""},
		{"deny_deletes, delete a collection ref", receiveconfig.Repo{DenyDeletes: true}, coll("org.example.M", "main"), true, "denies deleting"},
		{"allow_refs match", receiveconfig.Repo{AllowRefs: []string{"os/*"}}, plainRef("os/x86_64/stable"), false, ""},
		{"allow_refs no match", receiveconfig.Repo{AllowRefs: []string{"os/*"}}, plainRef("main"), false, "not in the server's allow_refs"},
		{"allow_refs ?", receiveconfig.Repo{AllowRefs: []string{"v?"}}, plainRef("v10"), false, "allow_refs"},
		{"allow_refs plain pattern, collection ref", receiveconfig.Repo{AllowRefs: []string{"os/*"}}, coll("org.example.M", "os/a"), false, "(org.example.M, os/a) is not in"},
		{"allow_refs collection pattern", receiveconfig.Repo{AllowRefs: []string{"(org.example.*, os/*)"}}, coll("org.example.M", "os/a"), false, ""},
		{"allow_refs collection pattern, other collection", receiveconfig.Repo{AllowRefs: []string{"(org.example.*, os/*)"}}, coll("com.other.M", "os/a"), false, "allow_refs"},
		{"allow_refs collection pattern, plain ref", receiveconfig.Repo{AllowRefs: []string{"(org.example.*, os/*)"}}, plainRef("os/a"), false, "allow_refs"},
		{"allow_refs, delete outside", receiveconfig.Repo{AllowRefs: []string{"os/*"}}, plainRef("main"), true, "allow_refs"},
		{"deny_refs match", receiveconfig.Repo{DenyRefs: []string{"*/devel"}}, plainRef("os/devel"), false, `denied by the server (deny_refs "*/devel")`},
		{"deny_refs plain pattern, collection ref", receiveconfig.Repo{DenyRefs: []string{"*/devel"}}, coll("org.example.M", "os/devel"), false, "denied"},
		{"deny_refs collection pattern, plain ref", receiveconfig.Repo{DenyRefs: []string{"(org.example.M, *)"}}, plainRef("os/devel"), false, ""},
		{"deny_refs no match", receiveconfig.Repo{DenyRefs: []string{"*/devel"}}, plainRef("os/stable"), false, ""},
		{"deny_refs over allow_refs", receiveconfig.Repo{AllowRefs: []string{"os/*"}, DenyRefs: []string{"os/secret"}}, plainRef("os/secret"), false, "denied"},
		{"allow and deny, allowed", receiveconfig.Repo{AllowRefs: []string{"os/*"}, DenyRefs: []string{"os/secret"}}, plainRef("os/public"), false, ""},
		{"deny_refs, delete", receiveconfig.Repo{DenyRefs: []string{"os/*"}}, plainRef("os/a"), true, "denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{settings: tc.set, log: pushlog.New(io.Discard, pushlog.Error, true)}
			p, err := s.policy()
			if err != nil {
				t.Fatal(err)
			}
			u := wire.RefUpdate{Ref: tc.ref, Old: c, New: object.Checksum{2}}
			if tc.delete {
				u.New = object.Zero
			}
			err = p.CheckRef(u)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckRef(%s): %v", tc.ref, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckRef(%s) = %v, want an error with %q", tc.ref, err, tc.wantErr)
			}
		})
	}
}

// sigRepo is a repository with commits to sign, and a server on it.
type sigRepo struct {
	path string
	repo *store.Repo
	tree string
}

func newSigRepo(t *testing.T, extra ...string) *sigRepo {
	t.Helper()
	testrepo.RequireTools(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "repo")
	testrepo.Init(t, path, "archive", extra...)
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "file"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &sigRepo{path: path, repo: r, tree: tree}
}

// commit makes a commit on branch with the extra ostree commit options.
func (sr *sigRepo) commit(t *testing.T, branch, subject string, extra ...string) object.Checksum {
	t.Helper()
	return object.MustParseChecksum(testrepo.Commit(t, sr.path, branch, sr.tree, subject, extra...))
}

// setMeta replaces commit c's detached metadata, committed.
func (sr *sigRepo) setMeta(t *testing.T, c object.Checksum, meta []byte) {
	t.Helper()
	txn, err := sr.repo.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteMetadata(object.Name{Checksum: c, Type: object.CommitMeta}, meta); err != nil {
		txn.Abort()
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
}

// orphan makes a commit on no branch (ostree then binds it to the refs
// asked for, and to none, an empty binding, otherwise).
func (sr *sigRepo) orphan(t *testing.T, subject string, extra ...string) object.Checksum {
	t.Helper()
	args := append([]string{"commit", "--repo=" + sr.path, "--orphan", "--tree=dir=" + sr.tree,
		"--subject=" + subject, "--timestamp=2024-01-01T00:00:00Z"}, extra...)
	return object.MustParseChecksum(strings.TrimSpace(testrepo.Ostree(t, args...)))
}

func (sr *sigRepo) commitBytes(t *testing.T, c object.Checksum) []byte {
	t.Helper()
	data, err := sr.repo.ReadMetadata(object.Name{Checksum: c, Type: object.Commit})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func signatures(t *testing.T, sigs ...[]byte) []byte {
	t.Helper()
	meta, err := sign.SetDetachedSignatures(nil, sign.MetadataKeyEd25519, sigs)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

// TestVerifyCommitEd25519: with sign_verify, a ref moves only to a commit
// signed by a trusted key, carrying no more than maxSignatures
// signatures, and bound (if at all) to that ref.
func TestVerifyCommitEd25519(t *testing.T) {
	noUserKeys(t)
	sr := newSigRepo(t)
	pub, priv := newKey(t)
	_, other := newKey(t)
	public, _ := keyFiles(t, t.TempDir(), pub, priv)
	c := sr.commit(t, "main", "to sign")
	data := sr.commitBytes(t, c)
	good := sign.SignEd25519(priv, data)
	junk := bytes.Repeat([]byte{7}, ed25519.SignatureSize)
	many := make([][]byte, maxSignatures)
	for i := range many {
		many[i] = junk
	}
	main := wire.RefName{Name: "main"}
	for _, tc := range []struct {
		name    string
		meta    []byte // nil: no detached metadata
		wantErr string
	}{
		{"unsigned", nil, "ed25519 verification failed"},
		{"signed by a trusted key", signatures(t, good), ""},
		{"signed by another key", signatures(t, sign.SignEd25519(other, data)), "ed25519 verification failed"},
		{"junk, then a good signature", signatures(t, junk, good), ""},
		{"too many signatures", signatures(t, append(many, good)...), "too many signatures"},
		{"as many as allowed", signatures(t, append(many[1:], good)...), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.meta != nil {
				sr.setMeta(t, c, tc.meta)
			} else {
				sr.setMeta(t, c, signatures(t)) // an empty list
			}
			s := &server{settings: receiveconfig.Repo{SignVerify: true, SignTrustedKeyfile: public}, repo: sr.repo,
				log: pushlog.New(io.Discard, pushlog.Error, true), path: sr.path}
			p, err := s.policy()
			if err != nil {
				t.Fatal(err)
			}
			err = p.VerifyCommit(c, main)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("VerifyCommit: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("VerifyCommit = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestCheckBindings: a commit bound to refs moves only refs it names; in
// a repository with a collection id, only a commit bound to that
// collection and to refs moves its refs.
func TestCheckBindings(t *testing.T) {
	sr := newSigRepo(t)
	s := &server{repo: sr.repo, log: pushlog.New(io.Discard, pushlog.Error, true), path: sr.path}
	unbound := sr.orphan(t, "unbound", "--no-bindings")
	empty := sr.orphan(t, "bound to no ref")
	bound := sr.orphan(t, "bound", "--bind-ref=main", "--bind-ref=os/stable")
	for _, tc := range []struct {
		c       object.Checksum
		ref     wire.RefName
		wantErr string
	}{
		{unbound, wire.RefName{Name: "anything"}, ""},
		{empty, wire.RefName{Name: "main"}, "its ref binding does not name main"},
		{bound, wire.RefName{Name: "main"}, ""},
		{bound, wire.RefName{Name: "os/stable"}, ""},
		{bound, wire.RefName{Name: "os/devel"}, "its ref binding does not name os/devel"},
		{unbound, wire.RefName{CollectionID: "org.example.Mirror", Name: "main"}, "no ref binding, which the collection org.example.Mirror requires"},
		{bound, wire.RefName{CollectionID: "org.example.Mirror", Name: "main"}, `collection binding is ""`},
	} {
		err := s.checkBindings(tc.c, tc.ref)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("checkBindings(%s, %s): %v", tc.c.Short(), tc.ref, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("checkBindings(%s, %s) = %v, want an error with %q", tc.c.Short(), tc.ref, err, tc.wantErr)
		}
	}

	coll := newSigRepo(t, "--collection-id=org.example.Os")
	cs := &server{repo: coll.repo, log: pushlog.New(io.Discard, pushlog.Error, true), path: coll.path}
	plainCommit := coll.orphan(t, "no ref binding", "--no-bindings")
	right := coll.orphan(t, "bound", "--bind-ref=main")
	for _, tc := range []struct {
		c       object.Checksum
		wantErr string
	}{
		{plainCommit, "which the collection org.example.Os requires"},
		{right, ""},
	} {
		err := cs.checkBindings(tc.c, wire.RefName{Name: "main"})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("checkBindings(%s) in a collection: %v", tc.c.Short(), err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("checkBindings(%s) in a collection = %v, want an error with %q", tc.c.Short(), err, tc.wantErr)
		}
	}
}

// TestDetachedMetadata: without allow_metadata_rewrite, a push may only
// add well-formed signatures to the detached metadata of a commit the
// repository has, and they are merged into the old metadata, so that no
// signature is dropped; a new commit's metadata is its own.
func TestDetachedMetadata(t *testing.T) {
	sr := newSigRepo(t)
	_, priv := newKey(t)
	c := sr.commit(t, "main", "existing")
	sig1 := sign.SignEd25519(priv, sr.commitBytes(t, c))
	sig2 := bytes.Repeat([]byte{2}, ed25519.SignatureSize)
	withOther := func(meta []byte, v string) []byte {
		m, err := sign.SetDetachedSignatures(meta, "org.example.other", [][]byte{[]byte(v)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := withOther(signatures(t, sig1), "kept")
	added := withOther(signatures(t, sig1, sig2), "kept")
	// A version-4 signature packet: type 0, EdDSA, SHA-256, no subpackets,
	// the hash prefix and two bytes of signature material.
	gpgV4 := []byte{0x88, 0x0c, 4, 0, 22, 8, 0, 0, 0, 0, 0xab, 0xcd, 0x00, 0x01}
	bigGPG := append([]byte{0x89, 0x50, 0x0c}, 4, 0, 22, 8, 0x50, 0x00)
	bigGPG = append(bigGPG, make([]byte, 0x5000)...)
	bigGPG = append(bigGPG, 0, 0, 0xab, 0xcd, 0, 1)
	bigGPG[1], bigGPG[2] = byte((len(bigGPG)-3)>>8), byte(len(bigGPG)-3)
	many := func(n int) [][]byte {
		var sigs [][]byte
		for i := range n {
			sigs = append(sigs, bytes.Repeat([]byte{byte(10 + i)}, ed25519.SignatureSize))
		}
		return sigs
	}
	withGPG := func(meta, sig []byte) []byte {
		m, err := sign.AppendDetachedSignature(meta, sign.MetadataKeyGPG, sig)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	sr.setMeta(t, c, old)
	s := &server{settings: receiveconfig.Repo{}, repo: sr.repo, log: pushlog.New(io.Discard, pushlog.Error, true), path: sr.path}
	rewrite := &server{settings: receiveconfig.Repo{AllowMetadataRewrite: true}, repo: sr.repo, log: pushlog.New(io.Discard, pushlog.Error, true), path: sr.path}
	for _, tc := range []struct {
		name        string
		s           *server
		meta        []byte
		wantErr     string
		wantChanged bool
		wantStaged  []byte
	}{
		{"unchanged", s, old, "", false, old},
		{"a signature added", s, added, "", true, added},
		{"a signature dropped: kept", s, withOther(signatures(t), "kept"), "", false, old},
		{"signatures reordered: the new one after the old", s, withOther(signatures(t, sig2, sig1), "kept"), "", true, added},
		{"only the new signature: merged", s, withOther(signatures(t, sig2), "kept"), "", true, added},
		{"a malformed signature added", s, withOther(signatures(t, sig1, []byte("short")), "kept"), "malformed signature", false, nil},
		{"another entry changed", s, withOther(signatures(t, sig1), "changed"), "changes entries other than signatures", false, nil},
		// Without gpg_verify nothing verifies them: junk where libostree
		// concatenates GPG signatures for gpg would break every client's
		// verification of a published commit.
		{"junk added as a GPG signature", s, withGPG(old, []byte("not an OpenPGP packet")), "malformed signature at ostree.gpgsigs", false, nil},
		{"a GPG packet that is no signature", s, withGPG(old, []byte{0x99, 0x00, 0x01, 0x04}), "malformed signature at ostree.gpgsigs", false, nil},
		// Found by a hostile review: a signature packet followed by
		// another packet made gpg refuse the whole run; too many, too
		// large or too much made merging cost hours and the metadata
		// grow past what clients take.
		{"a GPG signature packet and a literal one", s, withGPG(old, append(gpgV4, 0xcb, 0x07, 'b', 0, 0, 0, 0, 0, 'X')), "not a signature", false, nil},
		{"a GPG signature packet too short", s, withGPG(old, []byte{0x88, 0x03, 0x04, 0x00, 0x16}), "malformed OpenPGP signature packet", false, nil},
		{"17 signatures added", s, withOther(signatures(t, append([][]byte{sig1}, many(17)...)...), "kept"), "more than 16 signatures", false, nil},
		{"a signature too large", s, withGPG(old, bigGPG), "over 16384", false, nil},
		{"a well-formed GPG signature added", s, withGPG(old, gpgV4), "", true, withGPG(old, gpgV4)},
		{"rewrite allowed: replaced", rewrite, withOther(signatures(t), "changed"), "", true, withOther(signatures(t), "changed")},
		{"rewrite allowed: unchanged", rewrite, old, "", false, old},
	} {
		t.Run(tc.name, func(t *testing.T) {
			txn, err := sr.repo.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer txn.Abort()
			if err := txn.WriteMetadata(object.Name{Checksum: c, Type: object.CommitMeta}, tc.meta); err != nil {
				t.Fatal(err)
			}
			changed, err := tc.s.detachedMetadata(c)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("detachedMetadata: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("detachedMetadata = %v, want an error with %q", err, tc.wantErr)
			case tc.wantErr != "":
				return
			}
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			staged, _, err := sr.repo.Lib().ReadCommitMeta(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(staged, tc.wantStaged) {
				t.Errorf("staged metadata is not what was wanted")
			}
		})
	}
	t.Run("a new commit", func(t *testing.T) {
		var fresh object.Checksum
		fresh[0] = 0x42
		if changed, err := s.detachedMetadata(fresh); err != nil || changed {
			t.Errorf("detachedMetadata(a commit the repository lacks) = %v, %v", changed, err)
		}
	})
}
