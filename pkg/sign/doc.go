// Package sign verifies and makes ed25519 signatures exactly as libostree's
// "ed25519" signing engine (ostree-sign-ed25519.c, ostree-sign.c, libostree
// 2022.7 with libsodium) does, in pure Go: Debian's libostree is built
// without it, so the receiver cannot ask libostree. metadata.go reads and
// edits where signatures are stored (detached metadata, summary.sig) and a
// commit's bindings, with pkg/gvariant.
//
// # What is signed and where the signature goes
//
// A commit's signature is over the serialized commit object: the bytes of
// the commit GVariant as stored (ostree_sign_commit signs
// g_variant_get_data_as_bytes of the loaded commit), the very bytes whose
// SHA-256 is the commit checksum; libostree.Repo.ReadMetadata returns them.
// The signature is plain Ed25519 (RFC 8032, no pre-hash, no context):
// libsodium's crypto_sign_detached, 64 bytes. It is appended to the commit's
// detached metadata (an a{sv}) under the key "ostree.sign.ed25519"
// (MetadataKeyEd25519), whose value has type aay: one element per
// signature, appended in order, never deduplicated. Adding a signature does
// not change the commit or its checksum.
//
// The summary's signature is over the bytes of the repository's summary
// file. It is stored in summary.sig, an a{sv} of the same shape (same key,
// aay); ostree_sign_summary merges into an existing summary.sig, appending
// to the key and keeping other keys such as "ostree.gpgsigs" (GPG).
//
// # Verification
//
// ostree_sign_ed25519_data_verify takes the aay and tries the signatures in
// order. A signature that is not 64 bytes fails the whole verification at
// once (unless an earlier signature already verified). Each signature is
// tried with every trusted public key that is not revoked; the first that
// verifies wins. No aay at all and an empty aay both mean "no signature".
// Ed25519Verifier.Verify does the same.
//
// libsodium's crypto_sign_verify_detached is stricter than Go's
// crypto/ed25519.Verify: besides a canonical S (both check), it rejects a
// signature whose R is a small-order point, and public keys that are
// non-canonical encodings or small-order points (with such a key anyone
// can forge signatures that Go accepts). Verify makes those checks before
// calling crypto/ed25519, so both accept exactly the same signatures.
//
// # Public key files
//
// "Simple file format with just a list of base64 public keys per line": the
// file is split into lines at '\n' only, and each line is decoded with
// GLib's g_base64_decode, which is lenient: bytes outside the base64
// alphabet (spaces, '\r', '#', '-', '_', …) are skipped, '=' counts as a
// zero digit that emits fewer bytes, and an incomplete final group of digits
// is dropped. A line is a key when it decodes to exactly 32 bytes; every
// other line is skipped without error (libostree only logs it at debug
// level). So there is no comment syntax: blank lines and "# …" lines are
// skipped because they do not decode to 32 bytes, and a comment that happens
// to decode to 32 bytes would be a key. Unpadded base64 (43 characters)
// decodes to 30 bytes and is skipped: libostree needs the '=' padding. A line
// that is not valid UTF-8 is skipped too (g_variant_new_string refuses it),
// and a line is cut at a NUL byte. A file with no key at all is an error
// ("no valid keys in file"). Keys are deduplicated.
//
// # Where libostree looks for keys
//
// With no keys configured (`ostree sign --verify COMMIT` without keys, or a
// remote with sign-verify=true and neither verification-ed25519-key nor
// verification-ed25519-file), libostree reads, for each base directory
// /etc/ostree then /usr/share/ostree (DATADIR/ostree; `ostree sign
// --keys-dir=DIR` replaces both with DIR):
//
//	BASE/trusted.ed25519
//	BASE/trusted.ed25519.d/*   (every entry, in readdir order)
//
// Missing files and files without a valid key are skipped; no trusted key at
// all is an error ("no keys loaded"). Revoked keys are read the same way from
// BASE/revoked.ed25519 and BASE/revoked.ed25519.d/* (all optional); a
// revoked key never verifies anything even when it is also trusted. A single
// key file (`ostree sign --keys-file`, a remote's verification-ed25519-file)
// is read alone, without revoked keys. Ed25519 does the directory search;
// LoadEd25519PublicKeys reads given files.
//
// # Secret keys
//
// A secret key is libsodium's 64-byte crypto_sign secret key: the 32-byte
// seed followed by the 32-byte public key (Go's ed25519.PrivateKey has the
// same layout), written in base64. `ostree sign COMMIT KEY` and `ostree
// commit --sign=KEY` take it on the command line; `ostree sign --keys-file`
// reads one per line, and there every line must decode (leniently, as
// above) to 64 bytes: a blank line is an error.
package sign
