package receive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/systemd"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// server holds one push's settings and what was loaded for them.
type server struct {
	settings receiveconfig.Repo
	// user is the identity's rules (nil without users:), on top of
	// settings; identity the identity ("" for none).
	user     *receiveconfig.User
	identity string
	repo     *store.Repo
	log      *pushlog.Logger
	path     string

	verified map[object.Checksum]error // signatures checked in this push
	// summaryCurrent: before the refs moved, the summary listed them all
	// (store.Repo.SummaryCurrent), so the new one can be derived from it.
	summaryCurrent bool
	// pruned says what retention pruned in this push, for its record.
	pruned string

	gpgKeyring string                // gpg_trustedkeys, resolved
	verifier   *sign.Ed25519Verifier // sign_verify
	signKeys   []ed25519.PrivateKey  // sign_keyfiles
}

func (s *server) close() {}

// policy turns the settings into the receiver's policy. Key files are
// read now, so that a missing one is an error before anything is written.
func (s *server) policy() (transfer.Policy, error) {
	c, user := s.settings, s.user
	p := transfer.Policy{
		MaxPushSize:        c.MaxPushSize,
		MaxRefs:            c.MaxRefs,
		DryRun:             c.DryRun,
		ForceAll:           c.Force,
		DenyNonFastForward: c.DenyNonFastForward,
		CheckRef: func(u wire.RefUpdate) error {
			if c.DenyDeletes && u.New.IsZero() {
				return fmt.Errorf("the server denies deleting refs")
			}
			if user != nil && user.DenyDeletes && u.New.IsZero() {
				return fmt.Errorf("deleting refs is refused by %s", user.Rule("deny_deletes"))
			}
			if err := c.CheckRef(u.Ref.CollectionID, u.Ref.Name); err != nil {
				return err
			}
			if user != nil {
				return user.CheckRef(u.Ref.CollectionID, u.Ref.Name)
			}
			return nil
		},
	}
	// The identity's rules on top: the stricter wins, and is named.
	if user != nil {
		if user.DenyNonFastForward && !p.DenyNonFastForward {
			p.DenyNonFastForward, p.DenyNonFastForwardRule = true, user.Rule("deny_non_fast_forward")
		}
		if n := user.MaxPushSize; n > 0 && (p.MaxPushSize == 0 || n < p.MaxPushSize) {
			p.MaxPushSize, p.MaxPushSizeRule = n, user.Rule("max_push_size")
		}
	}
	if c.GPGVerify {
		keyring, err := trustedFile(c.GPGTrustedKeys, "gpg_trustedkeys", "ostree-receive-trustedkeys.gpg")
		if err != nil {
			return p, err
		}
		s.gpgKeyring = keyring
	}
	if c.SignVerify {
		keyfile, err := trustedFile(c.SignTrustedKeyfile, "sign_trustedkeyfile", "ostree-receive-trustedkeyfile.ed25519")
		if err != nil {
			return p, err
		}
		// libostree's system-wide trusted ed25519 keys count too.
		paths := []string{}
		if keyfile != "" {
			paths = append(paths, keyfile)
		}
		for _, sys := range []string{"/usr/share/ostree/trusted.ed25519", "/usr/share/ostree/trusted.ed25519.d",
			"/etc/ostree/trusted.ed25519", "/etc/ostree/trusted.ed25519.d"} {
			if _, err := os.Stat(sys); err == nil {
				paths = append(paths, sys)
			}
		}
		if len(paths) == 0 {
			return p, fmt.Errorf("sign_verify is on but there is no trusted ed25519 key file (set sign_trustedkeyfile)")
		}
		v, err := sign.LoadEd25519PublicKeys(paths...)
		if err != nil {
			return p, err
		}
		s.verifier = v
	}
	for _, f := range c.SignKeyfiles {
		keys, err := sign.LoadEd25519SecretKeys(f)
		if err != nil {
			return p, fmt.Errorf("sign_keyfiles: %w", err)
		}
		s.signKeys = append(s.signKeys, keys...)
	}
	if c.GPGVerify || c.SignVerify {
		p.VerifyCommit = s.verifyCommit
	}
	p.DetachedMetadata = s.detachedMetadata
	p.MetadataReplaces = c.AllowMetadataRewrite
	p.Resigned = s.resigned
	summaryOn := c.UpdateOn() && c.UpdateHook == ""
	signing := len(c.GPGSign) > 0 || len(s.signKeys) > 0
	if summaryOn || signing {
		p.BeforeCommit = func(moving []wire.RefUpdate) error {
			if summaryOn {
				s.summaryCurrent = s.repo.SummaryCurrent()
			}
			if signing {
				return s.signCommits(moving)
			}
			return nil
		}
	}
	if summaryOn || c.StaticDeltas || c.StaticDeltasFull || c.KeepCommits > 0 || c.KeepYoungerThan > 0 {
		p.AfterCommit = func(moved []wire.RefUpdate) []string {
			notes := s.staticDeltas(moved)
			notes = append(notes, s.retention(moved)...)
			if summaryOn {
				notes = append(notes, s.updateSummary(moved)...)
			}
			return notes
		}
	}
	if (c.UpdateOn() && c.UpdateHook != "") || c.SystemdUnit != "" {
		p.AfterUnlock = s.afterPush
	}
	return p, nil
}

// maxObjectSize is the largest content object the push may write, and
// the rule that sets it when it is the identity's: the smaller of the
// repository's max_object_size and the identity's.
func (s *server) maxObjectSize() (uint64, string) {
	n := s.settings.MaxObjectSize
	if s.user != nil && s.user.MaxObjectSize > 0 && (n == 0 || s.user.MaxObjectSize < n) {
		return s.user.MaxObjectSize, s.user.Rule("max_object_size")
	}
	return n, ""
}

// ed25519SignatureSize is the size of an ed25519 signature.
const ed25519SignatureSize = 64

// detachedMetadata judges the detached metadata a push sent for commit c
// (Policy.DetachedMetadata) and says whether the repository's changes.
// Metadata of a commit new to the repository is its own. For a commit
// the repository had before the push (sent again or not), the push may
// only add signatures: every other entry must be as it was, and the
// staged metadata becomes the old one with the signatures it lacked
// appended, under the keys libostree signs under, in the client's order
// (so no signature is ever dropped, the server's own included, however
// the client's copy is ordered); an added ed25519 signature must be 64
// bytes, an added GPG one OpenPGP signature packets; with a signature
// policy the result must verify. With allow_metadata_rewrite, the
// client's metadata replaces the old as it is.
func (s *server) detachedMetadata(c object.Checksum) (bool, error) {
	// What the repository had before this push (the push's own objects
	// are staged until it commits), whether the push sent the commit
	// again or not; a new commit's metadata is its own.
	old, had, err := s.repo.CommittedMetadata(c)
	if err != nil || !had {
		return false, err
	}
	updated, _, err := s.repo.Lib().ReadCommitMeta(c) // the staged one
	if err != nil {
		return false, err
	}
	merged := updated
	if !s.settings.AllowMetadataRewrite {
		if merged, err = mergeSignatures(old, updated); err != nil {
			return false, err
		}
		if !bytes.Equal(merged, updated) {
			name := object.Name{Checksum: c, Type: object.CommitMeta}
			if err := s.repo.Txn().WriteMetadata(name, merged); err != nil {
				return false, fmt.Errorf("writing the merged detached metadata: %w", err)
			}
		}
	}
	if s.settings.GPGVerify || s.settings.SignVerify {
		if err := s.signaturesOnce(c); err != nil {
			return false, err
		}
	}
	return !bytes.Equal(merged, old), nil
}

// Bounds of what one push may add to the detached metadata of a commit
// the repository has: merging is cheap and the result stays far below
// libostree's metadata limit, which a client pulling the commit enforces.
const (
	maxAddedSignatures = 16       // per commit
	maxSignatureSize   = 16 << 10 // a GPG signature is well under 1 KiB
	maxMergedMetadata  = 1 << 20
)

// mergeSignatures returns old with the signatures of updated it lacks
// appended: updated may differ from old in its signatures only. Each added
// signature must be one libostree's verifiers read as such (an ed25519
// one 64 bytes, a GPG one signature packets and nothing else), at most
// maxAddedSignatures of them, and the result at most maxMergedMetadata.
func mergeSignatures(old, updated []byte) ([]byte, error) {
	a, err := sign.WithoutSignatures(old)
	if err != nil {
		return nil, fmt.Errorf("the old detached metadata: %w", err)
	}
	b, err := sign.WithoutSignatures(updated)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(a, b) {
		return nil, errors.New("it changes entries other than signatures (allow_metadata_rewrite is off)")
	}
	merged, added := old, 0
	for _, k := range sign.SignatureKeys {
		was, err := sign.DetachedSignatures(old, k)
		if err != nil {
			return nil, err
		}
		now, err := sign.DetachedSignatures(updated, k)
		if err != nil {
			return nil, err
		}
		have := make(map[[32]byte]bool, len(was))
		for _, sig := range was {
			have[sha256.Sum256(sig)] = true
		}
		all := was
		for _, sig := range now {
			h := sha256.Sum256(sig)
			if have[h] {
				continue
			}
			have[h] = true
			if added++; added > maxAddedSignatures {
				return nil, fmt.Errorf("it adds more than %d signatures", maxAddedSignatures)
			}
			if len(sig) > maxSignatureSize {
				return nil, fmt.Errorf("it adds a signature of %d bytes at %s, over %d", len(sig), k, maxSignatureSize)
			}
			switch k {
			case libostree.MetadataKeyEd25519:
				if len(sig) != ed25519SignatureSize {
					return nil, fmt.Errorf("it adds a malformed signature at %s (%d bytes, not %d)", k, len(sig), ed25519SignatureSize)
				}
			case libostree.MetadataKeyGPG:
				if err := checkDetachedGPGSignature(sig); err != nil {
					return nil, fmt.Errorf("it adds a malformed signature at %s (%v)", k, err)
				}
			}
			all = append(all, sig)
		}
		if len(all) > len(was) {
			if merged, err = sign.SetDetachedSignatures(merged, k, all); err != nil {
				return nil, err
			}
		}
	}
	if len(merged) > maxMergedMetadata && len(merged) > len(old) {
		return nil, fmt.Errorf("the detached metadata would grow to %d bytes, over %d", len(merged), maxMergedMetadata)
	}
	return merged, nil
}

// trustedFile returns the configured file, or the first of the 1.x
// receiver's default locations that exists ("" when none does).
func trustedFile(configured, key, base string) (string, error) {
	if configured != "" {
		if _, err := os.Stat(configured); err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		return configured, nil
	}
	var candidates []string
	home := os.Getenv("XDG_CONFIG_HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(h, ".config")
		}
	}
	if home != "" {
		candidates = append(candidates, filepath.Join(home, "ostree", base))
	}
	candidates = append(candidates, filepath.Join("/etc/ostree", base))
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", nil
}

// maxSignatures is the most signatures a commit's detached metadata may
// hold under one key for verification: each costs a verification, and a
// real commit carries a few. GPG's count the signature packets in every
// entry (gpg checks them all), not the entries.
const maxSignatures = 64

// verifyCommit checks a commit ref would move to: its signatures, once
// per push whatever the number of refs (see signatures), and its bindings,
// as libostree's pull checks them.
func (s *server) verifyCommit(c object.Checksum, ref wire.RefName) error {
	if err := s.signaturesOnce(c); err != nil {
		return err
	}
	return s.checkBindings(c, ref)
}

// signaturesOnce is signatures, checked once per push for each commit.
func (s *server) signaturesOnce(c object.Checksum) error {
	if s.verified == nil {
		s.verified = map[object.Checksum]error{}
	}
	err, done := s.verified[c]
	if !done {
		err = s.signatures(c)
		s.verified[c] = err
	}
	return err
}

// checkBindings refuses a commit bound to other refs than ref, or to
// another collection, as libostree's pull does: a commit with a ref
// binding must name ref in it; the collection of ref (a collection ref's
// own, or the repository's) requires a ref binding and a collection
// binding naming it.
func (s *server) checkBindings(c object.Checksum, ref wire.RefName) error {
	data, err := s.repo.Lib().ReadMetadata(object.Name{Checksum: c, Type: object.Commit})
	if err != nil {
		return err
	}
	b, err := sign.CommitBindings(data)
	if err != nil {
		return err
	}
	coll := ref.CollectionID
	if coll == "" {
		coll = s.repo.CollectionID()
	}
	switch {
	case b.HasRefs && !slices.Contains(b.Refs, ref.Name):
		return fmt.Errorf("its ref binding does not name %s (it is bound to %s)", ref.Name, wire.Printable(strings.Join(b.Refs, ", ")))
	case coll != "" && !b.HasRefs:
		return fmt.Errorf("it has no ref binding, which the collection %s requires", coll)
	case coll != "" && b.Collection != coll:
		return fmt.Errorf("its collection binding is %q, not %s", wire.Printable(b.Collection), coll)
	}
	return nil
}

// signatures checks the signatures of commit c.
func (s *server) signatures(c object.Checksum) error {
	lib := s.repo.Lib()
	data, meta, err := commitAndMeta(lib, c)
	if err != nil {
		return err
	}
	for _, k := range sign.SignatureKeys {
		sigs, err := sign.DetachedSignatures(meta, k)
		if err != nil {
			continue
		}
		n := len(sigs)
		if k == libostree.MetadataKeyGPG {
			// gpg checks every signature packet an entry holds.
			n = 0
			for _, entry := range sigs {
				c, err := openPGPSignatures(entry)
				if err != nil {
					return fmt.Errorf("a GPG signature at %s: %v", k, err)
				}
				n += c
			}
		}
		if n > maxSignatures {
			return fmt.Errorf("too many signatures: %d at %s, the server checks at most %d", n, k, maxSignatures)
		}
	}
	if s.settings.GPGVerify {
		res, err := lib.VerifyCommitGPG(c, "", s.gpgKeyring)
		if err != nil {
			return fmt.Errorf("GPG verification failed: %v", err)
		}
		if res.Valid == 0 {
			return fmt.Errorf("GPG verification failed: no valid signature by a trusted key")
		}
		s.log.Logf(pushlog.Debug, "commit %s: %d valid GPG signatures", c.Short(), res.Valid)
	}
	if s.verifier != nil {
		sigs, err := sign.DetachedSignatures(meta, sign.MetadataKeyEd25519)
		if err != nil {
			return err
		}
		key, err := s.verifier.Verify(data, sigs)
		if err != nil {
			return fmt.Errorf("ed25519 verification failed: %v", err)
		}
		s.log.Logf(pushlog.Debug, "commit %s: valid ed25519 signature by %s", c.Short(), key)
	}
	return nil
}

// commitAndMeta reads a commit object's bytes (what ed25519 signs) and its
// detached metadata (where signatures go), staged or committed.
func commitAndMeta(lib *libostree.Repo, c object.Checksum) (commit, meta []byte, err error) {
	if commit, err = lib.ReadMetadata(object.Name{Checksum: c, Type: object.Commit}); err != nil {
		return nil, nil, err
	}
	meta, _, err = lib.ReadCommitMeta(c)
	return commit, meta, err
}

// signCommits adds the server's signatures to the commits that refs move
// to, in the transaction: the commits are not rewritten.
func (s *server) signCommits(moving []wire.RefUpdate) error {
	lib, txn := s.repo.Lib(), s.repo.Txn()
	seen := map[object.Checksum]bool{}
	for _, u := range moving {
		c := u.New
		if c.IsZero() || seen[c] {
			continue
		}
		seen[c] = true
		for _, key := range s.settings.GPGSign {
			if err := lib.SignCommitGPG(c, key, s.settings.GPGHomedir); err != nil {
				return fmt.Errorf("gpg_sign: signing %s with %s: %w", c.Short(), key, err)
			}
		}
		if len(s.signKeys) == 0 {
			continue
		}
		data, meta, err := commitAndMeta(lib, c)
		if err != nil {
			return err
		}
		for _, k := range s.signKeys {
			if meta, err = sign.AppendDetachedSignature(meta, sign.MetadataKeyEd25519, sign.SignEd25519(k, data)); err != nil {
				return err
			}
		}
		if err := txn.WriteMetadata(object.Name{Checksum: c, Type: object.CommitMeta}, meta); err != nil {
			return fmt.Errorf("sign_keyfiles: writing signatures of %s: %w", c.Short(), err)
		}
	}
	return nil
}

// updateSummary regenerates and signs the summary (after the static
// deltas and retention), under the ref lock so that two receivers never
// interleave summary and summary.sig.
func (s *server) updateSummary(moved []wire.RefUpdate) []string {
	var notes []string
	method := s.summaryMethod()
	mark := filepath.Join(s.path, summaryStaleFile)
	if err := s.regenerateSummary(method, moved); err != nil {
		s.log.Logf(pushlog.Error, "updating the summary (%s): %v", method, err)
		os.WriteFile(mark, []byte(fmt.Sprintf("%s %s: %v\n", time.Now().UTC().Format(time.RFC3339), method, err)), 0o644)
		return append(notes, fmt.Sprintf("warning: the refs moved, but updating the summary (%s) failed, so the summary is stale (marked in %s, retried by the next push that moves a ref): %v", method, summaryStaleFile, err))
	}
	if err := os.Remove(mark); err == nil {
		notes = append(notes, "the summary, stale since an earlier push, is up to date again")
	}
	s.log.Logf(pushlog.Debug, "summary updated (%s)", method)
	return notes
}

// summaryStaleFile, in the repository, marks a summary that a push failed
// to update: it holds when and why.
const summaryStaleFile = "ostree-push-summary-stale"

// staleSummary says, when the summary is marked stale, since when and why.
func (s *server) staleSummary() string {
	data, err := os.ReadFile(filepath.Join(s.path, summaryStaleFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// summaryMethod is the update method in effect: auto resolves to flatpak
// for a repository holding flatpak refs, as the 1.x receiver did (flatpak
// adds its own metadata to the summary), else ostree.
func (s *server) summaryMethod() string {
	m := s.settings.Update
	if m == receiveconfig.UpdateAuto {
		m = receiveconfig.UpdateOstree
		if isFlatpakRepo(s.repo) {
			m = receiveconfig.UpdateFlatpak
		}
	}
	return m
}

// staticDeltas generates, for each ref that moved to a commit, a static
// delta from its previous commit (static_deltas) and from scratch
// (static_deltas_from_scratch). A failure is reported; the refs stay.
func (s *server) staticDeltas(moved []wire.RefUpdate) []string {
	var notes []string
	done := map[[2]object.Checksum]bool{}
	gen := func(from, to object.Checksum) {
		if done[[2]object.Checksum{from, to}] {
			return
		}
		done[[2]object.Checksum{from, to}] = true
		notes = append(notes, s.generateDelta(from, to))
	}
	for _, u := range moved {
		if u.New.IsZero() {
			continue
		}
		if s.settings.StaticDeltas && !u.Old.IsZero() {
			gen(u.Old, u.New)
		}
		if s.settings.StaticDeltasFull {
			gen(object.Zero, u.New)
		}
	}
	return notes
}

// generateDelta generates the static delta from..to (from scratch when
// from is zero) and says what happened, for the client.
func (s *server) generateDelta(from, to object.Checksum) string {
	// A delta made again keeps its name but not its superblock's
	// checksum, which a summary derived from the previous one would
	// still give: regenerate the summary whole.
	s.summaryCurrent = false
	start := time.Now()
	if err := s.repo.Lib().GenerateStaticDelta(from, to); err != nil {
		s.log.Logf(pushlog.Error, "%v", err)
		return "warning: the push landed, but " + err.Error()
	}
	name := deltaName(from, to)
	s.log.Logf(pushlog.Info, "static delta %s generated in %s", name, time.Since(start).Round(time.Millisecond))
	return "static delta " + name + " generated"
}

// deltaName names a static delta for people: FROM-TO, short.
func deltaName(from, to object.Checksum) string {
	if from.IsZero() {
		return "(scratch)-" + to.Short()
	}
	return from.Short() + "-" + to.Short()
}

// resigned (Policy.Resigned) regenerates the static deltas to commits
// whose detached metadata the push changed: libostree copies a commit's
// detached metadata into the superblock of each delta to it, and a client
// pulling through the delta verifies what it finds there. Without
// static_deltas or static_deltas_from_scratch (deltas made outside the
// push), it only says which deltas still carry the old signatures.
func (s *server) resigned(commits []object.Checksum) []string {
	names, err := s.repo.Lib().StaticDeltaNames()
	if err != nil {
		s.log.Logf(pushlog.Error, "%v", err)
		return []string{"warning: the signatures landed, but " + err.Error()}
	}
	regenerate := s.settings.StaticDeltas || s.settings.StaticDeltasFull
	var notes []string
	for _, name := range names {
		from, to, err := libostree.ParseDeltaName(name)
		if err != nil || !slices.Contains(commits, to) {
			continue
		}
		if regenerate {
			notes = append(notes, s.generateDelta(from, to))
		} else {
			notes = append(notes, fmt.Sprintf("warning: static delta %s still carries the old signatures of %s: regenerate it (ostree static-delta generate)", deltaName(from, to), to.Short()))
		}
	}
	return notes
}

// regenerateSummary writes the summary by method, and signs it: with
// libostree's, derived from the previous summary and the refs that moved
// when that one was current (store.Repo.UpdateSummary), else regenerated.
func (s *server) regenerateSummary(method string, moved []wire.RefUpdate) error {
	if method == receiveconfig.UpdateFlatpak {
		return s.flatpakUpdateRepo()
	}
	lib := s.repo.Lib()
	moves := make([]store.RefMove, len(moved))
	for i, u := range moved {
		moves[i] = store.RefMove{Ref: u.Ref, From: u.Old, To: u.New}
	}
	// A repository with a collection ID gets its metadata committed on
	// (collection ID, ostree-metadata) too, as `ostree summary -u` does,
	// signed like the commits pushed.
	var signMeta func(object.Checksum) error
	if len(s.settings.GPGSign) > 0 || len(s.signKeys) > 0 {
		signMeta = func(c object.Checksum) error { return s.signCommits([]wire.RefUpdate{{New: c}}) }
	}
	if m, ok, err := s.repo.CommitMetadataRef(time.Now(), signMeta); err != nil {
		return err
	} else if ok {
		// The push may have moved that ref itself: one move, from where
		// it was before the push to the commit just made on top.
		i := slices.IndexFunc(moves, func(x store.RefMove) bool { return x.Ref == m.Ref })
		if i >= 0 {
			moves[i].To = m.To
		} else {
			moves = append(moves, m)
		}
	}
	derived, why, err := s.repo.UpdateSummary(moves, s.summaryCurrent)
	if err != nil {
		return err
	}
	if derived {
		s.log.Logf(pushlog.Debug, "summary derived from the previous one and the %d refs that moved", len(moves))
	} else {
		s.log.Logf(pushlog.Info, "summary regenerated from every ref: %s", why)
	}
	defer func() {
		if err := s.repo.RecordSummary(); err != nil {
			s.log.Logf(pushlog.Warning, "recording the summary's state (the next push regenerates it): %v", err)
		}
	}()
	if len(s.settings.GPGSign) > 0 {
		if err := lib.SignSummaryGPG(s.settings.GPGSign, s.settings.GPGHomedir); err != nil {
			return err
		}
	}
	if len(s.signKeys) > 0 {
		summary, err := lib.ReadSummary()
		if err != nil {
			return err
		}
		var sigs [][]byte
		for _, k := range s.signKeys {
			sigs = append(sigs, sign.SignEd25519(k, summary))
		}
		// The other keys of summary.sig (GPG signatures, say) are kept,
		// as `ostree summary --sign` keeps them; these replace ours.
		old, _, err := lib.ReadSummarySig()
		if err != nil {
			return err
		}
		data, err := sign.SetDetachedSignatures(old, sign.MetadataKeyEd25519, sigs)
		if err != nil {
			return fmt.Errorf("summary.sig: %w", err)
		}
		if err := lib.WriteSummarySig(data); err != nil {
			return err
		}
	}
	return nil
}

// isFlatpakRepo: a repository with flatpak refs gets its metadata from
// flatpak build-update-repo, as the 1.x receiver did, since flatpak adds
// its own to the summary.
func isFlatpakRepo(repo *store.Repo) bool {
	var patterns []wire.RefPattern
	for _, prefix := range []string{"app/", "runtime/", "appstream/", "appstream2/"} {
		patterns = append(patterns, wire.RefPattern{Ref: wire.RefName{Name: prefix}, Prefix: true})
	}
	refs, err := repo.LookupRefs(patterns, 1)
	return err == nil && len(refs) > 0
}

func (s *server) flatpakUpdateRepo() error {
	args := []string{"build-update-repo"}
	for _, k := range s.settings.GPGSign {
		args = append(args, "--gpg-sign="+k)
	}
	if s.settings.GPGHomedir != "" {
		args = append(args, "--gpg-homedir="+s.settings.GPGHomedir)
	}
	if len(s.signKeys) > 0 {
		return fmt.Errorf("sign_keyfiles with a flatpak repository is not supported (flatpak build-update-repo takes ed25519 keys on its command line)")
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), 10*time.Minute, errors.New("timed out after 10m0s"))
	defer cancel()
	out, err := runCommand(ctx, append([]string{"flatpak"}, append(args, s.path)...), nil)
	if err != nil {
		return fmt.Errorf("flatpak build-update-repo: %v: %s", err, out)
	}
	return nil
}

// afterPush runs the update hook and starts the systemd unit.
func (s *server) afterPush(moved []wire.RefUpdate) []string {
	var notes []string
	if s.settings.UpdateOn() && s.settings.UpdateHook != "" {
		notes = append(notes, s.runHook(context.Background(), moved)...)
	}
	if s.settings.SystemdUnit != "" {
		notes = append(notes, s.startUnit()...)
	}
	return notes
}

func (s *server) startUnit() []string {
	unit, err := systemd.UnitForRepo(s.settings.SystemdUnit, s.path)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var conn *systemd.Conn
		conn, err = systemd.Connect(ctx, os.Getenv("OSTREE_RECEIVE_SYSTEMD_BUS"))
		if err == nil {
			defer conn.Close()
			var job string
			job, err = systemd.StartUnit(ctx, conn, unit)
			if err == nil {
				s.log.Logf(pushlog.Info, "started %s (job %s)", unit, job)
				return []string{"started " + unit}
			}
		}
	}
	s.log.Logf(pushlog.Error, "systemd_unit %s: %v", s.settings.SystemdUnit, err)
	return []string{fmt.Sprintf("warning: the refs moved, but starting %s failed: %v", s.settings.SystemdUnit, err)}
}
