package sign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Names and metadata keys of libostree's ed25519 engine.
const (
	// Ed25519Name is the engine's name (`ostree sign --sign-type`).
	Ed25519Name = "ed25519"
	// MetadataKeyEd25519 is where ed25519 signatures are stored, in a
	// commit's detached metadata and in summary.sig.
	MetadataKeyEd25519 = "ostree.sign.ed25519"
	// MetadataFormatEd25519 is the GVariant type of the value at
	// MetadataKeyEd25519: an array of byte arrays, one per signature.
	MetadataFormatEd25519 = "aay"
)

// Errors Verify returns (wrapped, with details).
var (
	// ErrNoEd25519Signature: the data carries no ed25519 signature at all.
	ErrNoEd25519Signature = errors.New("no ed25519 signature")
	// ErrNoValidSignature: there are signatures, but none verifies with a
	// trusted key that is not revoked (or one is malformed).
	ErrNoValidSignature = errors.New("no valid signature from a trusted key")
)

// DefaultBaseDirs are the directories libostree searches for
// trusted.ed25519 and revoked.ed25519 (and their .d directories), in order:
// /etc/ostree, then DATADIR/ostree, which is /usr/share/ostree on Debian and
// Fedora.
var DefaultBaseDirs = []string{"/etc/ostree", "/usr/share/ostree"}

// Ed25519 is libostree's ed25519 key configuration: the base directories in
// which it looks for trusted and revoked public keys when none are given
// explicitly. The zero value uses DefaultBaseDirs.
type Ed25519 struct {
	// BaseDirs replaces DefaultBaseDirs when not nil (libostree's
	// "basedir" option, `ostree sign --keys-dir`, takes one directory).
	BaseDirs []string
}

// Verifier loads the trusted and revoked keys as libostree does (see the
// package documentation) and returns a verifier for them. It fails when no
// trusted key can be loaded.
func (e Ed25519) Verifier() (*Ed25519Verifier, error) {
	dirs := e.BaseDirs
	if dirs == nil {
		dirs = DefaultBaseDirs
	}
	v := &Ed25519Verifier{}
	for _, base := range dirs {
		v.loadSearched(base, "trusted.ed25519", false)
		v.loadSearched(base, "revoked.ed25519", true)
	}
	if len(v.trusted) == 0 {
		return nil, fmt.Errorf("ed25519: no trusted keys loaded from %s (trusted.ed25519, trusted.ed25519.d/)",
			strings.Join(dirs, ", "))
	}
	return v, nil
}

// loadSearched reads BASE/NAME and BASE/NAME.d/*, skipping what fails, as
// _ed25519_load_pk does.
func (v *Ed25519Verifier) loadSearched(base, name string, revoked bool) {
	files := []string{filepath.Join(base, name)}
	if names, err := readDirNames(filepath.Join(base, name+".d")); err == nil {
		for _, n := range names {
			files = append(files, filepath.Join(base, name+".d", n))
		}
	}
	for _, f := range files {
		keys, err := readPublicKeyFile(f, &v.warnings)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				v.warnings = append(v.warnings, err.Error())
			}
			continue
		}
		if revoked {
			v.revoked = addKeys(v.revoked, keys)
		} else {
			v.trusted = addKeys(v.trusted, keys)
		}
	}
}

// readDirNames lists a directory's entries, sorted. libostree uses readdir
// order; the order of keys decides only which key Verify reports, never
// whether a signature verifies.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// Ed25519Verifier verifies ed25519 signatures with a set of trusted public
// keys, minus revoked ones.
type Ed25519Verifier struct {
	trusted  []ed25519.PublicKey
	revoked  []ed25519.PublicKey
	warnings []string
}

// NewEd25519Verifier returns a verifier trusting the given keys except the
// revoked ones. Keys must be 32 bytes; others are ignored.
func NewEd25519Verifier(trusted, revoked []ed25519.PublicKey) *Ed25519Verifier {
	v := &Ed25519Verifier{}
	for _, k := range trusted {
		if len(k) == ed25519.PublicKeySize {
			v.trusted = addKeys(v.trusted, []ed25519.PublicKey{k})
		}
	}
	for _, k := range revoked {
		if len(k) == ed25519.PublicKeySize {
			v.revoked = addKeys(v.revoked, []ed25519.PublicKey{k})
		}
	}
	return v
}

func addKeys(to, keys []ed25519.PublicKey) []ed25519.PublicKey {
next:
	for _, k := range keys {
		for _, have := range to {
			if bytes.Equal(have, k) {
				continue next
			}
		}
		to = append(to, append(ed25519.PublicKey{}, k...))
	}
	return to
}

// Keys returns the keys the verifier uses: trusted and not revoked.
func (v *Ed25519Verifier) Keys() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, k := range v.trusted {
		if !v.isRevoked(k) {
			out = append(out, append(ed25519.PublicKey{}, k...))
		}
	}
	return out
}

// Warnings lists what loading skipped: lines that are not keys and files
// that could not be read or held no key, as "path:line: reason". libostree
// skips the same, logging at debug level only.
func (v *Ed25519Verifier) Warnings() []string { return append([]string(nil), v.warnings...) }

func (v *Ed25519Verifier) isRevoked(k ed25519.PublicKey) bool {
	for _, r := range v.revoked {
		if bytes.Equal(r, k) {
			return true
		}
	}
	return false
}

// Verify checks that at least one of sigs is a valid ed25519 signature of
// data by a trusted, unrevoked key, as ostree_sign_ed25519_data_verify does,
// and returns that key in base64 (the form of key files). sigs is the aay
// stored at MetadataKeyEd25519 (see DetachedSignatures): nil or
// empty is ErrNoEd25519Signature; signatures that do not verify, or a
// signature that is not 64 bytes before any valid one, give an error
// wrapping ErrNoValidSignature.
func (v *Ed25519Verifier) Verify(data []byte, sigs [][]byte) (validKey string, err error) {
	if len(sigs) == 0 {
		return "", ErrNoEd25519Signature
	}
	keys := v.Keys()
	for i, sig := range sigs {
		if len(sig) != ed25519.SignatureSize {
			return "", fmt.Errorf("%w: signature %d is %d bytes, expected %d",
				ErrNoValidSignature, i, len(sig), ed25519.SignatureSize)
		}
		for _, k := range keys {
			if verifyLikeLibsodium(k, data, sig) {
				return EncodeKey(k), nil
			}
		}
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("%w: no trusted key (all %d revoked)", ErrNoValidSignature, len(v.trusted))
	}
	return "", fmt.Errorf("%w: %d signature(s) tried with %d key(s)", ErrNoValidSignature, len(sigs), len(keys))
}

// SignEd25519 signs data with key as libsodium's crypto_sign_detached does
// (pure Ed25519; the public key used is the second half of key). It panics
// if key is not 64 bytes, as crypto/ed25519.Sign does.
func SignEd25519(key ed25519.PrivateKey, data []byte) []byte {
	return ed25519.Sign(key, data)
}

// EncodeKey returns a public or secret key in the base64 form of libostree's
// key files and command lines (standard alphabet, padded).
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// LoadEd25519PublicKeys reads public key files and returns a verifier
// trusting their keys (no revoked keys: as a single key file is read by
// libostree). A path that is a directory stands for every regular file in it
// (sorted by name); there, as in libostree's trusted.ed25519.d, a file with
// no valid key is skipped (see Warnings). A named file that is missing,
// unreadable or holds no valid key is an error, and so is loading no key at
// all.
func LoadEd25519PublicKeys(paths ...string) (*Ed25519Verifier, error) {
	v := &Ed25519Verifier{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("ed25519 public keys: %w", err)
		}
		if !st.IsDir() {
			keys, err := readPublicKeyFile(p, &v.warnings)
			if err != nil {
				return nil, err
			}
			v.trusted = addKeys(v.trusted, keys)
			continue
		}
		names, err := readDirNames(p)
		if err != nil {
			return nil, fmt.Errorf("ed25519 public keys: %w", err)
		}
		for _, n := range names {
			keys, err := readPublicKeyFile(filepath.Join(p, n), &v.warnings)
			if err != nil {
				v.warnings = append(v.warnings, err.Error())
				continue
			}
			v.trusted = addKeys(v.trusted, keys)
		}
	}
	if len(v.trusted) == 0 {
		return nil, fmt.Errorf("ed25519: no keys loaded from %s", strings.Join(paths, ", "))
	}
	return v, nil
}

// readPublicKeyFile reads one key file; like _load_pk_from_file, it must be
// a regular file (symlinks followed) holding at least one valid key.
func readPublicKeyFile(path string, warnings *[]string) ([]ed25519.PublicKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ed25519 public keys: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("ed25519 public keys: %s is not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ed25519 public keys: %w", err)
	}
	keys, skipped := parsePublicKeys(data)
	for _, s := range skipped {
		*warnings = append(*warnings, path+":"+s)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("ed25519: no valid keys in file %s", path)
	}
	return keys, nil
}

// ParseEd25519PublicKeys parses the contents of a public key file as
// libostree does (see the package documentation): lines that do not decode
// to 32 bytes are skipped. It is an error when no line is a key. Duplicates
// are returned once.
func ParseEd25519PublicKeys(data []byte) ([]ed25519.PublicKey, error) {
	keys, _ := parsePublicKeys(data)
	if len(keys) == 0 {
		return nil, errors.New("ed25519: no valid keys")
	}
	return keys, nil
}

// parsePublicKeys returns the keys and, for each skipped line, "N: reason".
func parsePublicKeys(data []byte) (keys []ed25519.PublicKey, skipped []string) {
	for i, line := range splitLines(data) {
		b, why := decodeLine(line)
		if why == "" && len(b) != ed25519.PublicKeySize {
			why = fmt.Sprintf("decodes to %d bytes, not a %d-byte public key", len(b), ed25519.PublicKeySize)
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("%d: %s", i+1, why))
			continue
		}
		keys = addKeys(keys, []ed25519.PublicKey{b})
	}
	return keys, skipped
}

// LoadEd25519SecretKeys reads a secret key file as `ostree sign
// --keys-file` does when signing: one base64 key per line, every line a key.
// A line that does not decode to 64 bytes is an error, and so is (stricter
// than libostree, which would sign with it and produce signatures nobody can
// verify) a key whose second half is not the public key of its seed.
func LoadEd25519SecretKeys(path string) ([]ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ed25519 secret keys: %w", err)
	}
	keys, err := ParseEd25519SecretKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// ParseEd25519SecretKeys parses the contents of a secret key file; see
// LoadEd25519SecretKeys.
func ParseEd25519SecretKeys(data []byte) ([]ed25519.PrivateKey, error) {
	var keys []ed25519.PrivateKey
	for i, line := range splitLines(data) {
		b, why := decodeLine(line)
		if why == "" && len(b) != ed25519.PrivateKeySize {
			why = fmt.Sprintf("decodes to %d bytes, not a %d-byte secret key", len(b), ed25519.PrivateKeySize)
		}
		if why == "" {
			want := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
			if !bytes.Equal(want[ed25519.SeedSize:], b[ed25519.SeedSize:]) {
				why = "the public half of the secret key does not match its seed"
			}
		}
		if why != "" {
			return nil, fmt.Errorf("ed25519 secret key on line %d: %s", i+1, why)
		}
		keys = append(keys, ed25519.PrivateKey(b))
	}
	if len(keys) == 0 {
		return nil, errors.New("ed25519: no secret keys")
	}
	return keys, nil
}

// splitLines splits as g_data_input_stream_read_line does: at '\n' only; a
// final line without '\n' counts, an empty remainder after the last '\n' does
// not.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	s := string(data)
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// decodeLine turns one line into key bytes as libostree does: the line is a
// C string (cut at NUL), must be UTF-8 (g_variant_new_string), and is
// decoded by g_base64_decode. why is non-empty when the line is refused
// before decoding.
func decodeLine(line string) (b []byte, why string) {
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	if !utf8.ValidString(line) {
		return nil, "not valid UTF-8"
	}
	return gBase64Decode(line), ""
}

// gBase64Decode is GLib's g_base64_decode: bytes outside the alphabet are
// skipped, '=' is a zero digit after which fewer bytes are emitted, and an
// incomplete last group is dropped. It never fails.
func gBase64Decode(s string) []byte {
	out := make([]byte, 0, len(s)/4*3)
	var v uint32
	n := 0
	var last0, last1 byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		r := base64Rank(c)
		if r == 0xff {
			continue
		}
		last1, last0 = last0, c
		v = v<<6 | uint32(r)
		n++
		if n == 4 {
			out = append(out, byte(v>>16))
			if last1 != '=' {
				out = append(out, byte(v>>8))
			}
			if last0 != '=' {
				out = append(out, byte(v))
			}
			n = 0
		}
	}
	return out
}

func base64Rank(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	case c == '=':
		return 0
	}
	return 0xff
}

// verifyLikeLibsodium is crypto_sign_verify_detached: libsodium's checks
// that crypto/ed25519 does not make, then the verification itself (both
// check that S is canonical and compare the encoding of R).
func verifyLikeLibsodium(pub ed25519.PublicKey, msg, sig []byte) bool {
	if hasSmallOrder(sig[:32]) || !isCanonicalPoint(pub) || hasSmallOrder(pub) {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

// smallOrder lists the encodings libsodium's ge25519_has_small_order
// rejects (with the sign bit ignored): the points of order 1, 2, 4 and 8
// and the non-canonical encodings p and p+1 of y = 0 and y = 1.
var smallOrder = [7][32]byte{
	{0x00}, // y = 0 (order 4)
	{0x01}, // y = 1 (order 1, the identity)
	{ // order 8
		0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
	},
	{ // order 8
		0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
	},
	fieldTail(0xec), // y = p-1 (order 2)
	fieldTail(0xed), // y = p, i.e. 0 (order 4)
	fieldTail(0xee), // y = p+1, i.e. 1 (order 1)
}

// fieldTail is the little-endian encoding of 2^255 - 19 + (first - 0xed).
func fieldTail(first byte) [32]byte {
	var b [32]byte
	b[0] = first
	for i := 1; i < 31; i++ {
		b[i] = 0xff
	}
	b[31] = 0x7f
	return b
}

func hasSmallOrder(s []byte) bool {
	var e [32]byte
	copy(e[:], s)
	e[31] &= 0x7f
	for _, bad := range smallOrder {
		if e == bad {
			return true
		}
	}
	return false
}

// isCanonicalPoint is ge25519_is_canonical: the y coordinate (sign bit
// ignored) is below p = 2^255 - 19.
func isCanonicalPoint(s []byte) bool {
	if s[31]&0x7f != 0x7f {
		return true
	}
	for i := 30; i > 0; i-- {
		if s[i] != 0xff {
			return true
		}
	}
	return s[0] < 0xed
}
