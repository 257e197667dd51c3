package libostree_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
)

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
