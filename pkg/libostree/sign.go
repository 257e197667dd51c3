package libostree

// Signatures and the summary: libostree's GPG verification and signing of
// commits and of the summary file, summary regeneration, and generic helpers
// over the a{sv} that carries signatures (a commit's detached metadata, the
// summary.sig file) for signature types libostree cannot handle here
// (ed25519: see pkg/sign).
//
// Where signatures live (libostree 2022.7):
//   - A commit's signatures are in its detached metadata (the .commitmeta
//     object, an a{sv} named by the commit's checksum): GPG under
//     "ostree.gpgsigs", ed25519 under "ostree.sign.ed25519", both of type aay
//     with one signature per element. They sign the serialized commit object
//     (the bytes ReadMetadata returns for the commit), so adding a signature
//     never changes the commit's checksum.
//   - The summary's signatures are in summary.sig next to summary: an a{sv}
//     with the same keys and types, over the bytes of the summary file.

/*
#include "sign_shim.h"
*/
import "C"

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Metadata keys of the signatures libostree knows, in detached metadata and
// in summary.sig. Both hold an aay.
const (
	MetadataKeyGPG     = "ostree.gpgsigs"
	MetadataKeyEd25519 = "ostree.sign.ed25519"
)

// DomainGPG is the GLib error domain of libostree's GPG errors
// (OSTREE_GPG_ERROR); the codes follow.
const DomainGPG = "OstreeGpgError"

// Codes of DomainGPG errors (OstreeGpgError).
const (
	CodeGPGNoSignature      = int(C.OSTREE_GPG_ERROR_NO_SIGNATURE)
	CodeGPGInvalidSignature = int(C.OSTREE_GPG_ERROR_INVALID_SIGNATURE)
	CodeGPGMissingKey       = int(C.OSTREE_GPG_ERROR_MISSING_KEY)
	CodeGPGExpiredSignature = int(C.OSTREE_GPG_ERROR_EXPIRED_SIGNATURE)
	CodeGPGExpiredKey       = int(C.OSTREE_GPG_ERROR_EXPIRED_KEY)
	CodeGPGRevokedKey       = int(C.OSTREE_GPG_ERROR_REVOKED_KEY)
)

// GPGVerification is the outcome of checking a commit's GPG signatures.
type GPGVerification struct {
	// Valid counts the signatures libostree considers valid: made by a key
	// in the keyrings, and neither the signature nor the key expired or
	// revoked (ostree_gpg_verify_result_count_valid).
	Valid int
	// Signatures describes every signature found, valid or not.
	Signatures []GPGSignature
}

// GPGSignature is one GPG signature as libostree describes it.
type GPGSignature struct {
	// KeyID is the last 16 hex digits of Fingerprint.
	KeyID string
	// Fingerprint is that of the signing key (a subkey, possibly). When
	// the key is missing from the keyrings it may be only the key ID the
	// signature names.
	Fingerprint string
	// PrimaryFingerprint is the fingerprint of the signing key's primary
	// key; "" when the key is missing.
	PrimaryFingerprint string
	Valid              bool
	SigExpired         bool
	KeyExpired         bool
	KeyRevoked         bool
	KeyMissing         bool
	Timestamp          time.Time // when the signature was made
	Expires            time.Time // when the signature expires; zero if never
	PubkeyAlgo         string    // e.g. "EdDSA", "RSA"
	HashAlgo           string    // e.g. "SHA512"
	UserName           string    // of the key's primary user ID; "" if unknown
	UserEmail          string    // of the key's primary user ID; "" if unknown
	// Summary is libostree's description of the signature, the text
	// `ostree show` prints ("Signature made … using EdDSA key ID …",
	// "Good signature from …" or "Can't check signature: public key not
	// found").
	Summary string
}

// VerifyCommitGPG checks the GPG signatures in the detached metadata of
// commit c (ostree_repo_verify_commit_ext) and describes each. keyringDir
// and keyringFile name the trusted keys; "" means not given:
//   - keyringDir: every regular file named *.gpg in it (except trustdb.gpg
//     and secring.gpg) is read as a binary keyring (`gpg --export`). A GnuPG
//     home directory does not work as keyringDir: its keys are in
//     pubring.kbx.
//   - keyringFile: one keyring file (binary, `gpg --export`).
//
// Whatever is given, libostree 2022.7 also trusts the keyrings it always
// adds here: every *.gpg file in the repository's own directory (the
// keyrings of its remotes, REMOTE.trustedkeys.gpg) and every *.gpg file in
// $OSTREE_GPG_HOME, or /usr/share/ostree/trusted.gpg.d/ when that variable
// is unset. Its documentation's "overrides built-in default" is not what the
// code does: the keyrings are added together.
//
// The result counts the valid signatures; a signature by a key that is in
// none of the keyrings is listed with KeyMissing and is not valid, and no
// error is returned. A commit without any GPG signature is an error:
// Is(err, DomainGPG, CodeGPGNoSignature) ("GPG verification enabled, but no
// signatures found"). A missing commit is an error too (IsNotFound).
//
// In an open transaction, a commit and detached metadata staged in it are
// read as if committed: the receiver can verify before it commits.
func (r *Repo) VerifyCommitGPG(c object.Checksum, keyringDir, keyringFile string) (*GPGVerification, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var cs cstrs
	defer cs.free()
	var cdir, cfile *C.char
	if keyringDir != "" {
		cdir = cs.add(keyringDir)
	}
	if keyringFile != "" {
		cfile = cs.add(keyringFile)
	}
	var valid, n C.guint
	var sigs *C.opush_gpg_sig
	var gerr *C.GError
	ok := C.opush_verify_commit_gpg(r.ptr, cs.add(c.String()), cdir, cfile, &valid, &sigs, &n, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "verifying GPG signatures of commit %s", c)
	}
	defer C.opush_gpg_sigs_free(sigs, n)
	out := &GPGVerification{Valid: int(valid)}
	for _, s := range unsafe.Slice(sigs, int(n)) {
		g := GPGSignature{
			Fingerprint:        C.GoString(s.fingerprint),
			PrimaryFingerprint: C.GoString(s.fingerprint_primary),
			Valid:              s.valid != 0,
			SigExpired:         s.sig_expired != 0,
			KeyExpired:         s.key_expired != 0,
			KeyRevoked:         s.key_revoked != 0,
			KeyMissing:         s.key_missing != 0,
			Timestamp:          time.Unix(int64(s.timestamp), 0).UTC(),
			PubkeyAlgo:         C.GoString(s.pubkey_algo),
			HashAlgo:           C.GoString(s.hash_algo),
			UserName:           unknownToEmpty(C.GoString(s.user_name)),
			UserEmail:          unknownToEmpty(C.GoString(s.user_email)),
			Summary:            strings.TrimRight(C.GoString(s.description), "\n"),
		}
		if s.exp_timestamp != 0 {
			g.Expires = time.Unix(int64(s.exp_timestamp), 0).UTC()
		}
		g.KeyID = g.Fingerprint
		if len(g.KeyID) > 16 {
			g.KeyID = g.KeyID[len(g.KeyID)-16:]
		}
		out.Signatures = append(out.Signatures, g)
	}
	return out, nil
}

// unknownToEmpty drops the placeholders libostree puts where gpgme knows no
// user ID ("[unknown name]", "[unknown email]").
func unknownToEmpty(s string) string {
	if s == "[unknown name]" || s == "[unknown email]" {
		return ""
	}
	return s
}

// SignCommitGPG signs commit c with the GPG secret key keyID found in the
// GnuPG home directory homedir ("" = GnuPG's default) and appends the
// signature to the commit's detached metadata under "ostree.gpgsigs"
// (ostree_repo_sign_commit). Other detached metadata is kept; the commit and
// its checksum do not change. libostree refuses (G_IO_ERROR_EXISTS) when it
// can tell that keyID already signed the commit; it looks for that key among
// *.gpg keyrings in homedir only, so with a modern homedir (pubring.kbx) it
// cannot tell, and signing twice stores two signatures.
//
// In an open transaction the commit may be one staged in it, and the new
// detached metadata is written to the transaction's staging directory: the
// Repo sees it at once (ReadCommitMeta, VerifyCommitGPG), objects/ only when
// the transaction commits. Aborting does not discard it: libostree keeps the
// staging directory, the next transaction on the repository (in the same
// boot) resumes it, and committing that one publishes the signature.
// Outside a transaction it replaces the .commitmeta file in objects/
// directly (atomically, by rename).
func (r *Repo) SignCommitGPG(c object.Checksum, keyID, homedir string) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	if keyID == "" {
		return errors.New("signing commit: no GPG key ID")
	}
	var cs cstrs
	defer cs.free()
	chome := cs.optional(homedir)
	var gerr *C.GError
	ok := C.ostree_repo_sign_commit(r.ptr, cs.add(c.String()), cs.add(keyID), chome, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "signing commit %s with GPG key %s", c, keyID)
	}
	return nil
}

// RegenerateSummary rewrites the repository's summary file from its refs
// (ostree_repo_regenerate_summary, without additional metadata): the
// repository's own refs (remote refs are left out) with each commit's size,
// timestamp and version, refs bound to other collections (mirrors) in the
// collection map, static deltas, and the standard keys (last-modified, mode,
// tombstone-commits, indexed-deltas, collection-id). It also
// regenerates the static delta index, and it deletes summary.sig: signatures
// of the old summary would not verify. Sign again afterwards.
//
// Locking: in libostree 2022.7 it takes the repository lock SHARED (it was
// exclusive before 2021.7): a flock on the repository's .lock file, waiting
// up to core.lock-timeout-secs (default 30) while another process holds it
// exclusively (prune does). A shared lock does not serialize two
// regenerations or a regeneration and a signing: callers that run them
// concurrently must serialize them themselves. The summary is written
// atomically (a temporary file renamed over it).
//
// Inside an open transaction it works (the transaction holds the same shared
// lock), but it lists the refs already committed: refs staged with
// Txn.SetRef appear only after Commit and another RegenerateSummary.
func (r *Repo) RegenerateSummary() error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var gerr *C.GError
	ok := C.ostree_repo_regenerate_summary(r.ptr, nil, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "regenerating summary of %s", r.path)
	}
	return nil
}

// SignSummaryGPG signs the summary file with each GPG key of keyIDs from
// homedir ("" = GnuPG's default) and appends the signatures to summary.sig
// under "ostree.gpgsigs" (ostree_repo_add_gpg_signature_summary). An
// existing summary.sig is merged: its other keys (ed25519 signatures, for
// example) are kept. It takes no repository lock; summary.sig is replaced
// atomically. The summary must exist (RegenerateSummary).
func (r *Repo) SignSummaryGPG(keyIDs []string, homedir string) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	if err := checkKeyIDs(keyIDs); err != nil {
		return fmt.Errorf("signing summary: %w", err)
	}
	var cs cstrs
	defer cs.free()
	arr, chome := cs.strv(keyIDs), cs.optional(homedir)
	var gerr *C.GError
	ok := C.ostree_repo_add_gpg_signature_summary(r.ptr, arr, chome, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "signing summary of %s", r.path)
	}
	return nil
}

// GPGSignData signs data with each GPG key of keyIDs from homedir (""
// = GnuPG's default) and returns the signatures as summary.sig holds them:
// an a{sv} with "ostree.gpgsigs" (ostree_repo_gpg_sign_data). For a
// summary that is not in a repository of its own (one in an object store).
func (r *Repo) GPGSignData(data []byte, keyIDs []string, homedir string) ([]byte, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkKeyIDs(keyIDs); err != nil {
		return nil, fmt.Errorf("GPG signing: %w", err)
	}
	var cs cstrs
	defer cs.free()
	arr, chome := cs.strv(keyIDs), cs.optional(homedir)
	var out *C.guint8
	var n C.gsize
	var gerr *C.GError
	ok := C.opush_gpg_sign_data(r.ptr, bytesPtr(data), C.gsize(len(data)), arr, chome, &out, &n, &gerr)
	runtime.KeepAlive(r)
	runtime.KeepAlive(data)
	if ok == 0 {
		return nil, wrap(gerr, "GPG signing")
	}
	defer C.g_free(C.gpointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}

// checkKeyIDs refuses no GPG key IDs, or an empty one.
func checkKeyIDs(keyIDs []string) error {
	if len(keyIDs) == 0 {
		return errors.New("no GPG key IDs")
	}
	if slices.Contains(keyIDs, "") {
		return errors.New("an empty GPG key ID")
	}
	return nil
}

func bytesPtr(b []byte) *C.guint8 {
	if len(b) == 0 {
		return nil
	}
	return (*C.guint8)(unsafe.Pointer(&b[0]))
}

// ReadSummary returns the bytes of the repository's summary file: what
// summary signatures sign. A missing summary is an error for which
// IsNotFound is true.
func (r *Repo) ReadSummary() ([]byte, error) {
	data, ok, err := r.readRepoFile("summary")
	if err == nil && !ok {
		err = &Error{Domain: DomainIO, Code: CodeIONotFound,
			Message: fmt.Sprintf("repository %s has no summary", r.path)}
	}
	return data, err
}

// ReadSummarySig returns the bytes of summary.sig (an a{sv}: see
// DetachedSignatures); ok is false when there is none.
func (r *Repo) ReadSummarySig() (data []byte, ok bool, err error) {
	return r.readRepoFile("summary.sig")
}

// readRepoFile reads a file of the repository directory, relative to the
// directory libostree opened (so a relative path or a later chdir does not
// matter). ok is false when it does not exist.
func (r *Repo) readRepoFile(name string) ([]byte, bool, error) {
	if err := r.checkOpen(); err != nil {
		return nil, false, err
	}
	dfd := int(C.ostree_repo_get_dfd(r.ptr))
	fd, err := syscall.Openat(dfd, name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	runtime.KeepAlive(r)
	if err == syscall.ENOENT {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &os.PathError{Op: "open", Path: r.path + "/" + name, Err: err}
	}
	f := os.NewFile(uintptr(fd), r.path+"/"+name)
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// WriteSummarySig replaces summary.sig with data (an a{sv} of
// signatures: see pkg/sign's SetDetachedSignatures, which keeps the other
// keys of the old one, ReadSummarySig). The file is written to a temporary
// file in the repository directory, synced, made mode 0644 and renamed over
// summary.sig; like libostree's summary signing it takes no repository
// lock.
func (r *Repo) WriteSummarySig(data []byte) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	return r.replaceRepoFile("summary.sig", data)
}

// WriteSummary replaces the summary with data and removes summary.sig, as
// ostree_repo_regenerate_summary does: the file is written to a temporary
// file in the repository directory, synced, made mode 0644 and renamed
// over summary, then the signatures of the summary it replaced go. Hold
// the repository's shared lock (LockShared) around it, as libostree
// does.
func (r *Repo) WriteSummary(data []byte) error {
	if err := r.replaceRepoFile("summary", data); err != nil {
		return err
	}
	dfd := int(C.ostree_repo_get_dfd(r.ptr))
	err := syscall.Unlinkat(dfd, "summary.sig")
	runtime.KeepAlive(r)
	if err != nil && err != syscall.ENOENT {
		return &os.PathError{Op: "unlink", Path: r.path + "/summary.sig", Err: err}
	}
	return nil
}

// replaceRepoFile atomically replaces a file of the repository directory.
func (r *Repo) replaceRepoFile(name string, data []byte) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	defer runtime.KeepAlive(r)
	dfd := int(C.ostree_repo_get_dfd(r.ptr))
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := syscall.Openat(dfd, tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: r.path + "/" + tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), r.path+"/"+tmp)
	fail := func(err error) error {
		f.Close()
		syscall.Unlinkat(dfd, tmp)
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		syscall.Unlinkat(dfd, tmp)
		return err
	}
	if err := syscall.Renameat(dfd, tmp, dfd, name); err != nil {
		syscall.Unlinkat(dfd, tmp)
		return &os.LinkError{Op: "rename", Old: r.path + "/" + tmp, New: r.path + "/" + name, Err: err}
	}
	return nil
}
