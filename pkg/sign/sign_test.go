package sign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rfc8032 holds the test vectors of RFC 8032 section 7.1 (TEST 1 to 3).
var rfc8032 = []struct {
	secret, public, message, signature string
}{
	{
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		"",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	},
	{
		"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		"72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
	},
	{
		"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		"af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
	},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRFC8032 runs the RFC's known answers through the key file formats:
// the secret key file holds base64(seed || public key), the public key file
// base64(public key), as libostree's tools write them.
func TestRFC8032(t *testing.T) {
	dir := t.TempDir()
	var allPub strings.Builder
	for i, v := range rfc8032 {
		seed, pub := unhex(t, v.secret), unhex(t, v.public)
		msg, want := unhex(t, v.message), unhex(t, v.signature)
		skFile := writeFile(t, filepath.Join(dir, "secret"), EncodeKey(append(append([]byte{}, seed...), pub...))+"\n")
		pkFile := writeFile(t, filepath.Join(dir, "public"), EncodeKey(pub)+"\n")
		allPub.WriteString(EncodeKey(pub) + "\n")

		keys, err := LoadEd25519SecretKeys(skFile)
		if err != nil || len(keys) != 1 {
			t.Fatalf("vector %d: LoadEd25519SecretKeys = %d keys, %v", i+1, len(keys), err)
		}
		if !bytes.Equal(keys[0].Public().(ed25519.PublicKey), pub) {
			t.Fatalf("vector %d: public key of the secret key differs from the RFC's", i+1)
		}
		sig := SignEd25519(keys[0], msg)
		if !bytes.Equal(sig, want) {
			t.Fatalf("vector %d: signature\n got %x\nwant %x", i+1, sig, want)
		}
		v, err := LoadEd25519PublicKeys(pkFile)
		if err != nil {
			t.Fatalf("vector %d: %v", i+1, err)
		}
		key, err := v.Verify(msg, [][]byte{want})
		if err != nil || key != EncodeKey(pub) {
			t.Fatalf("vector %d: Verify = %q, %v", i+1, key, err)
		}
		// One bit of the message or the signature changed: refused.
		bad := append([]byte{}, want...)
		bad[10] ^= 1
		if _, err := v.Verify(msg, [][]byte{bad}); !errors.Is(err, ErrNoValidSignature) {
			t.Fatalf("vector %d: corrupted signature: %v", i+1, err)
		}
		if _, err := v.Verify(append(msg, 0), [][]byte{want}); !errors.Is(err, ErrNoValidSignature) {
			t.Fatalf("vector %d: other message: %v", i+1, err)
		}
	}
	// All three public keys in one file verify each signature, naming the
	// right key.
	v, err := LoadEd25519PublicKeys(writeFile(t, filepath.Join(dir, "all"), allPub.String()))
	if err != nil || len(v.Keys()) != 3 {
		t.Fatalf("three-key file: %v", err)
	}
	for i, vec := range rfc8032 {
		key, err := v.Verify(unhex(t, vec.message), [][]byte{unhex(t, vec.signature)})
		if err != nil || key != EncodeKey(unhex(t, vec.public)) {
			t.Fatalf("vector %d with three keys: %q, %v", i+1, key, err)
		}
	}
}

// TestGBase64Decode pins the port of GLib's decoder to answers taken from
// g_base64_decode (GLib 2.74) itself.
func TestGBase64Decode(t *testing.T) {
	key := "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{key, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
		{strings.TrimSuffix(key, "="), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707"}, // unpadded: 30 bytes
		{" 11qY AYKx\tCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\r", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
		{"====", "00"},
		{"A===", "00"},
		{"AA==", "00"},
		{"AAA=AAAA", "0000000000"},
		{"AB", ""},              // incomplete group dropped
		{"-_!#é", ""},           // nothing in the alphabet
		{"QUJD", "414243"},      // "ABC"
		{"QU#JD\x80", "414243"}, // foreign bytes skipped
	} {
		if got := hex.EncodeToString(gBase64Decode(tc.in)); got != tc.want {
			t.Errorf("gBase64Decode(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func genKey(t *testing.T, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// keyWithURLUnsafeBase64 returns a key whose base64 has '+' or '/', so that
// its URL-alphabet form has '-' or '_', which GLib skips.
func keyWithURLUnsafeBase64(t *testing.T) ed25519.PublicKey {
	t.Helper()
	for seed := 100; seed < 200; seed++ {
		k, _ := genKey(t, byte(seed))
		if strings.ContainsAny(EncodeKey(k), "+/") {
			return k
		}
	}
	t.Fatal("no key with '+' or '/' in its base64")
	return nil
}

// TestParsePublicKeysEdgeCases: the lines libostree's _load_pk_from_stream
// takes and skips.
func TestParsePublicKeysEdgeCases(t *testing.T) {
	k1, _ := genKey(t, 1)
	k2, _ := genKey(t, 2)
	k3, _ := genKey(t, 3)
	k4 := keyWithURLUnsafeBase64(t)
	k5, _ := genKey(t, 5)
	_, long := genKey(t, 6)
	b1, b2, b3, b4, b5 := EncodeKey(k1), EncodeKey(k2), EncodeKey(k3), EncodeKey(k4), EncodeKey(k5)
	data := strings.Join([]string{
		"# trusted keys for the build server", // decodes to a few bytes: skipped
		"",                                    // blank: skipped
		b1,                                    // a key
		b2 + "\r",                             // CRLF: '\r' is skipped by the decoder
		"  " + b3[:10] + " " + b3[10:] + "  ", // spaces inside: skipped by the decoder
		strings.TrimRight(b4, "="),            // unpadded: 30 bytes, skipped
		base64.URLEncoding.EncodeToString(k4), // URL alphabet: '-'/'_' dropped, skipped
		EncodeKey(long),                       // a 64-byte secret key: skipped
		"not base64 at all !!!",               // skipped
		b1,                                    // duplicate: once
		"# " + b5,                             // a "comment" that decodes to 32 bytes IS a key
		b2[:20] + "\xff" + b2[20:],            // not UTF-8: skipped
		b3 + "\x00garbage",                    // cut at NUL: a key (k3 again)
	}, "\n")
	keys, skipped := parsePublicKeys([]byte(data))
	want := []ed25519.PublicKey{k1, k2, k3, k5}
	if len(keys) != len(want) {
		t.Fatalf("parsed %d keys, want %d (skipped %q)", len(keys), len(want), skipped)
	}
	for i := range want {
		if !bytes.Equal(keys[i], want[i]) {
			t.Fatalf("key %d = %s, want %s", i, EncodeKey(keys[i]), EncodeKey(want[i]))
		}
	}
	if len(skipped) != 7 {
		t.Fatalf("skipped %d lines, want 7: %q", len(skipped), skipped)
	}
	if !strings.HasPrefix(skipped[len(skipped)-1], "12: not valid UTF-8") {
		t.Fatalf("last skipped line: %q", skipped[len(skipped)-1])
	}

	if _, err := ParseEd25519PublicKeys([]byte(data)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "\n\n", "# only a comment\n", strings.TrimRight(b1, "=") + "\n"} {
		if _, err := ParseEd25519PublicKeys([]byte(bad)); err == nil {
			t.Errorf("ParseEd25519PublicKeys(%q) found a key", bad)
		}
	}
	// The last line needs no newline.
	if keys, err := ParseEd25519PublicKeys([]byte(b1)); err != nil || len(keys) != 1 {
		t.Fatalf("key without newline: %v", err)
	}
}

func TestSecretKeys(t *testing.T) {
	_, p1 := genKey(t, 1)
	_, p2 := genKey(t, 2)
	good := EncodeKey(p1) + "\n" + EncodeKey(p2) + "\n"
	keys, err := ParseEd25519SecretKeys([]byte(good))
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[1], p2) {
		t.Fatalf("two secret keys: %d, %v", len(keys), err)
	}
	mismatched := append(append([]byte{}, p1[:32]...), p2[32:]...)
	for name, data := range map[string]string{
		"blank line":         EncodeKey(p1) + "\n\n" + EncodeKey(p2),
		"public key":         EncodeKey(p1.Public().(ed25519.PublicKey)),
		"unpadded":           strings.TrimRight(EncodeKey(p1), "="),
		"mismatched halves":  EncodeKey(mismatched),
		"empty file":         "",
		"comment":            "# my key\n" + EncodeKey(p1),
		"not UTF-8 in line":  EncodeKey(p1)[:5] + "\xff" + EncodeKey(p1)[5:],
		"one byte too short": EncodeKey(p1[:63]),
	} {
		if _, err := ParseEd25519SecretKeys([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadEd25519SecretKeys(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing secret key file accepted")
	}
}

func TestVerify(t *testing.T) {
	k1, p1 := genKey(t, 1)
	k2, p2 := genKey(t, 2)
	_, p3 := genKey(t, 3)
	msg := []byte("commit bytes")
	s1, s2, s3 := SignEd25519(p1, msg), SignEd25519(p2, msg), SignEd25519(p3, msg)
	corrupt := append([]byte{}, s2...)
	corrupt[40] ^= 0x80

	v := NewEd25519Verifier([]ed25519.PublicKey{k1, k2}, nil)
	for _, tc := range []struct {
		name    string
		sigs    [][]byte
		wantKey ed25519.PublicKey
		wantErr error
	}{
		{"first of two", [][]byte{s1, s3}, k1, nil},
		{"second after an untrusted one", [][]byte{s3, s2}, k2, nil},
		{"after a corrupted one", [][]byte{corrupt, s3, s1}, k1, nil},
		{"only an untrusted key", [][]byte{s3}, nil, ErrNoValidSignature},
		{"corrupted", [][]byte{corrupt}, nil, ErrNoValidSignature},
		{"empty list", [][]byte{}, nil, ErrNoEd25519Signature},
		{"nil", nil, nil, ErrNoEd25519Signature},
		// A malformed signature stops verification unless a valid one came
		// first, as in ostree_sign_ed25519_data_verify.
		{"short signature first", [][]byte{s1[:63], s1}, nil, ErrNoValidSignature},
		{"short signature after a valid one", [][]byte{s1, s1[:63]}, k1, nil},
		{"empty signature", [][]byte{{}}, nil, ErrNoValidSignature},
	} {
		key, err := v.Verify(msg, tc.sigs)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || key != EncodeKey(tc.wantKey) {
			t.Errorf("%s: Verify = %q, %v; want key %s", tc.name, key, err, EncodeKey(tc.wantKey))
		}
	}
	// The two "no" errors read differently.
	_, e1 := v.Verify(msg, nil)
	_, e2 := v.Verify(msg, [][]byte{s3})
	if !strings.Contains(e1.Error(), "no ed25519 signature") || !strings.Contains(e2.Error(), "no valid signature from a trusted key") {
		t.Errorf("errors: %q / %q", e1, e2)
	}

	// Revoked keys never verify, even when also trusted.
	r := NewEd25519Verifier([]ed25519.PublicKey{k1, k2}, []ed25519.PublicKey{k1})
	if _, err := r.Verify(msg, [][]byte{s1}); !errors.Is(err, ErrNoValidSignature) {
		t.Errorf("revoked key verified: %v", err)
	}
	if key, err := r.Verify(msg, [][]byte{s1, s2}); err != nil || key != EncodeKey(k2) {
		t.Errorf("unrevoked key: %q, %v", key, err)
	}
	if len(r.Keys()) != 1 {
		t.Errorf("Keys() = %d, want 1", len(r.Keys()))
	}
	all := NewEd25519Verifier([]ed25519.PublicKey{k1}, []ed25519.PublicKey{k1})
	if _, err := all.Verify(msg, [][]byte{s1}); !errors.Is(err, ErrNoValidSignature) {
		t.Errorf("all keys revoked: %v", err)
	}
}

// TestLibsodiumChecks: signatures crypto/ed25519 accepts but libsodium's
// crypto_sign_verify_detached refuses, and so must Verify.
func TestLibsodiumChecks(t *testing.T) {
	basepoint := unhex(t, "5866666666666666666666666666666666666666666666666666666666666666")
	// R = B, S = 1 verifies for any message under a key whose point is the
	// identity: [1]B - [k]O = B.
	forged := append(append([]byte{}, basepoint...), make([]byte, 32)...)
	forged[32] = 1
	identity := make([]byte, 32)
	identity[0] = 1
	nonCanonicalIdentity := fieldTail(0xee) // y = p + 1 = 1
	for name, pub := range map[string][]byte{
		"identity":               identity,
		"non-canonical identity": nonCanonicalIdentity[:],
	} {
		msg := []byte("anything at all")
		if !ed25519.Verify(pub, msg, forged) {
			t.Fatalf("%s: crypto/ed25519 refuses the forgery; the test premise is wrong", name)
		}
		v := NewEd25519Verifier([]ed25519.PublicKey{pub}, nil)
		if _, err := v.Verify(msg, [][]byte{forged}); !errors.Is(err, ErrNoValidSignature) {
			t.Errorf("%s: forged signature accepted: %v", name, err)
		}
	}
	// A small-order R is refused even with a legitimate key.
	k, _ := genKey(t, 9)
	for _, bad := range smallOrder {
		sig := append(append([]byte{}, bad[:]...), make([]byte, 32)...)
		if verifyLikeLibsodium(k, []byte("m"), sig) {
			t.Errorf("small-order R %x accepted", bad)
		}
		if !hasSmallOrder(bad[:]) {
			t.Errorf("%x not recognised as small order", bad)
		}
		withSign := bad
		withSign[31] |= 0x80
		if !hasSmallOrder(withSign[:]) {
			t.Errorf("%x with the sign bit not recognised as small order", bad)
		}
	}
	if hasSmallOrder(k) || !isCanonicalPoint(k) {
		t.Error("an ordinary key is flagged")
	}
	p := fieldTail(0xed)
	if isCanonicalPoint(p[:]) {
		t.Error("y = p is canonical?")
	}
	pm1 := fieldTail(0xec)
	if !isCanonicalPoint(pm1[:]) {
		t.Error("y = p-1 is not canonical?")
	}
}

// TestDefaultLocations lays out two base directories as /etc/ostree and
// /usr/share/ostree would be and loads them as libostree does.
func TestDefaultLocations(t *testing.T) {
	k1, p1 := genKey(t, 1)
	k2, p2 := genKey(t, 2)
	k3, p3 := genKey(t, 3)
	etc, share := filepath.Join(t.TempDir(), "etc"), filepath.Join(t.TempDir(), "share")
	writeFile(t, filepath.Join(etc, "trusted.ed25519"), EncodeKey(k1)+"\n")
	writeFile(t, filepath.Join(etc, "trusted.ed25519.d", "b-junk"), "nothing here\n")
	writeFile(t, filepath.Join(etc, "trusted.ed25519.d", "a-second"), "# second key\n"+EncodeKey(k2)+"\n")
	if err := os.MkdirAll(filepath.Join(etc, "trusted.ed25519.d", "c-subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(share, "trusted.ed25519.d", "vendor"), EncodeKey(k3)+"\n")
	writeFile(t, filepath.Join(share, "revoked.ed25519"), EncodeKey(k2)+"\n")

	v, err := Ed25519{BaseDirs: []string{etc, share}}.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	keys := v.Keys()
	if len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k3) {
		t.Fatalf("Keys() = %d keys; want k1 and k3 (k2 revoked)", len(keys))
	}
	msg := []byte("summary bytes")
	if key, err := v.Verify(msg, [][]byte{SignEd25519(p2, msg), SignEd25519(p3, msg)}); err != nil || key != EncodeKey(k3) {
		t.Fatalf("Verify = %q, %v; want k3", key, err)
	}
	if _, err := v.Verify(msg, [][]byte{SignEd25519(p2, msg)}); !errors.Is(err, ErrNoValidSignature) {
		t.Fatalf("revoked k2 verified: %v", err)
	}
	if _, err := v.Verify(msg, [][]byte{SignEd25519(p1, msg)}); err != nil {
		t.Fatal(err)
	}
	w := strings.Join(v.Warnings(), "\n")
	if !strings.Contains(w, "b-junk") || !strings.Contains(w, "c-subdir") {
		t.Errorf("warnings do not name the skipped files:\n%s", w)
	}
	// Revoked keys alone are not enough.
	if _, err := (Ed25519{BaseDirs: []string{filepath.Join(share, "revoked.ed25519.d")}}).Verifier(); err == nil {
		t.Error("a directory without trusted keys gave a verifier")
	}
	if _, err := (Ed25519{BaseDirs: []string{t.TempDir()}}).Verifier(); err == nil {
		t.Error("empty base directory gave a verifier")
	}
}

func TestLoadPublicKeysPaths(t *testing.T) {
	k1, _ := genKey(t, 1)
	k2, _ := genKey(t, 2)
	dir := t.TempDir()
	d := filepath.Join(dir, "keys.d")
	writeFile(t, filepath.Join(d, "2"), EncodeKey(k2)+"\n")
	writeFile(t, filepath.Join(d, "1"), EncodeKey(k1)+"\n")
	writeFile(t, filepath.Join(d, "3"), "junk\n")
	single := writeFile(t, filepath.Join(dir, "single"), EncodeKey(k2)+"\n")
	empty := writeFile(t, filepath.Join(dir, "empty"), "\n# none\n")

	v, err := LoadEd25519PublicKeys(d, single)
	if err != nil {
		t.Fatal(err)
	}
	keys := v.Keys()
	if len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k2) {
		t.Fatalf("Keys() = %d keys; want k1, k2 in file-name order, deduplicated", len(keys))
	}
	if !strings.Contains(strings.Join(v.Warnings(), "\n"), "keys.d/3") {
		t.Errorf("warnings: %q", v.Warnings())
	}
	for name, paths := range map[string][]string{
		"missing file":    {filepath.Join(dir, "missing")},
		"file, no keys":   {empty},
		"no paths":        nil,
		"dir without key": {t.TempDir()},
	} {
		if _, err := LoadEd25519PublicKeys(paths...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadEd25519PublicKeys(single, empty); err == nil {
		t.Error("a named file without keys is not an error")
	}
}

func TestConstants(t *testing.T) {
	if MetadataKeyEd25519 != "ostree.sign.ed25519" || MetadataFormatEd25519 != "aay" || Ed25519Name != "ed25519" {
		t.Fatal("constants changed")
	}
	if DefaultBaseDirs[0] != "/etc/ostree" || DefaultBaseDirs[1] != "/usr/share/ostree" {
		t.Fatal("default base dirs changed")
	}
}
