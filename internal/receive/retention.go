package receive

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Retention: keep_commits and keep_younger_than, applied after refs move.
//
// A push that moved a ref to a history with commits past the rules prunes
// the repository: under libostree's exclusive repository lock (no
// transaction open, so no push is between its objects and its refs), the
// commits each ref keeps are worked out for every ref of the repository,
// and libostree deletes every object none of them reaches, with the static
// deltas to commits no longer there. It runs under the ref lock, after
// the refs moved and the static deltas were made and before the summary
// is regenerated; the exclusive lock is waited for at most
// retentionLockWait (a push holds it shared from its first object to its
// commit): past that the prune is skipped, and the next push that moves a
// ref tries again. A dry run never gets here.

// retentionLockWait bounds the wait for the exclusive repository lock.
const retentionLockWait = 5 * time.Second

// retention applies the rules after refs moved (part of AfterCommit) and
// says what it pruned.
func (s *server) retention(moved []wire.RefUpdate) []string {
	n, age := s.settings.KeepCommits, s.settings.KeepYoungerThan
	if n <= 0 && age <= 0 {
		return nil
	}
	now := time.Now()
	// Cheap first: only a ref that moved can have a commit past the
	// rules that the last prune did not see (or one aged past them since).
	due := false
	for _, u := range moved {
		if u.New.IsZero() {
			continue
		}
		past, err := s.pastRules(u.New, now)
		if err != nil {
			return s.retentionFailed(err)
		}
		if past {
			due = true
			break
		}
	}
	if !due {
		return nil
	}
	lib := s.repo.Lib()
	if why := lockingOff(lib); why != "" {
		s.log.Logf(pushlog.Warning, "retention skipped: %s", why)
		return []string{"retention skipped: " + why}
	}
	start := time.Now()
	if err := lib.LockExclusive(retentionLockWait); err != nil {
		s.log.Logf(pushlog.Warning, "retention skipped: %v", err)
		return []string{fmt.Sprintf("retention skipped: another push holds the repository (waited %v); the next push that moves a ref tries again", retentionLockWait)}
	}
	defer lib.UnlockExclusive()
	tips, err := s.allTips()
	if err != nil {
		return s.retentionFailed(err)
	}
	keep, doomed, err := s.walkAll(tips, now)
	if err != nil {
		return s.retentionFailed(err)
	}
	if len(doomed) == 0 {
		// What moved refs left past the rules another ref keeps.
		s.log.Logf(pushlog.Debug, "retention: every commit past the rules is kept by another ref")
		return nil
	}
	deltasBefore, err := lib.StaticDeltaNames()
	if err != nil {
		return s.retentionFailed(err)
	}
	s.summaryCurrent = false // deltas may go, even if the prune fails half-way: the summary is made whole
	st, err := lib.PruneUnreachable(keep)
	if err != nil {
		return s.retentionFailed(err)
	}
	// The commits that went: those past the rules that no ref keeps.
	var pruned []string
	names := make([]object.Name, len(doomed))
	for i, c := range doomed {
		names[i] = object.Name{Checksum: c, Type: object.Commit}
	}
	if have, err := lib.HasObjects(names); err == nil {
		for i, h := range have {
			if !h {
				pruned = append(pruned, doomed[i].Short())
			}
		}
	}
	deltasAfter, _ := lib.StaticDeltaNames()
	var gone []string
	for _, d := range deltasBefore {
		if !slices.Contains(deltasAfter, d) {
			if from, to, err := libostree.ParseDeltaName(d); err == nil {
				gone = append(gone, deltaName(from, to))
			}
		}
	}
	msg := fmt.Sprintf("retention (%s): pruned %d commits%s, %d objects, %s in %v",
		s.retentionRules(), len(pruned), listed(pruned), st.Pruned, report.HumanBytes(st.Freed), time.Since(start).Round(time.Millisecond))
	if len(gone) > 0 {
		msg += fmt.Sprintf("; static deltas removed: %s", strings.Join(gone, ", "))
	}
	s.log.Logf(pushlog.Info, "%s", msg)
	s.pruned = fmt.Sprintf("%d commits, %d objects, %d bytes", len(pruned), st.Pruned, st.Freed)
	return []string{msg}
}

// pastRules reports whether the history down from tip has a commit the
// rules do not keep (the tip is always kept; once one is not, neither is
// any older one).
func (s *server) pastRules(tip object.Checksum, now time.Time) (bool, error) {
	lib := s.repo.Lib()
	for i, c := 0, tip; !c.IsZero() && i < maxRetentionWalk; i++ {
		commit, err := lib.LoadCommit(c)
		if libostree.IsNotFound(err) {
			return false, nil // the history here ends
		}
		if err != nil {
			return false, err
		}
		if !s.keeps(i, commit.Timestamp, now) {
			return true, nil
		}
		c = commit.Parent
	}
	return false, nil
}

// allTips lists the commit of every ref of the repository: its own refs,
// remote refs and every collection's, as `ostree prune --refs-only`
// keeps them.
func (s *server) allTips() ([]object.Checksum, error) {
	lib := s.repo.Lib()
	all, err := lib.ListAllRefs()
	if err != nil {
		return nil, err
	}
	coll, err := lib.ListCollectionRefs()
	if err != nil {
		return nil, err
	}
	var tips []object.Checksum
	seen := map[object.Checksum]bool{}
	for _, r := range append(all, coll...) {
		if !seen[r.Commit] {
			seen[r.Commit] = true
			tips = append(tips, r.Commit)
		}
	}
	return tips, nil
}

// keeps reports whether the rules keep a commit of timestamp ts at depth i
// of a ref's history (0: the commit the ref points to, always kept), as
// long as no newer one of that history was past them.
func (s *server) keeps(i int, ts, now time.Time) bool {
	n, age := s.settings.KeepCommits, s.settings.KeepYoungerThan
	return i == 0 || (n > 0 && i < n) || (age > 0 && now.Sub(ts) < age)
}

// maxRetentionWalk bounds the commits one retention loads.
const maxRetentionWalk = 200000

// walkAll works out, for every ref's commit in tips, the commits the rules
// keep and the first one past them, and returns every commit kept and
// those past the rules no ref keeps (the commits the prune deletes, as
// far as the walk saw them). Each commit is walked once for the best place
// any ref has it at (the smallest depth), and a history past the rules
// only as far as a commit some ref keeps: in all at most
// maxRetentionWalk loads, past which retention is refused.
func (s *server) walkAll(tips []object.Checksum, now time.Time) (keep, doomed []object.Checksum, err error) {
	lib := s.repo.Lib()
	depth := map[object.Checksum]int{} // kept, at the smallest depth seen
	past := map[object.Checksum]bool{} // walked past the rules
	load := func(c object.Checksum) (*libostree.Commit, error) {
		if len(depth)+len(past) >= maxRetentionWalk {
			return nil, fmt.Errorf("the histories hold more than %d commits to walk", maxRetentionWalk)
		}
		return lib.LoadCommit(c)
	}
	// Keep first, for every tip; then what lies past.
	var cuts []object.Checksum
	for _, tip := range tips {
		for i, c := 0, tip; !c.IsZero(); i++ {
			if d, ok := depth[c]; ok && d <= i {
				break // walked from here already, as well placed
			}
			commit, err := load(c)
			if libostree.IsNotFound(err) {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			if !s.keeps(i, commit.Timestamp, now) {
				cuts = append(cuts, c)
				break
			}
			depth[c] = i
			c = commit.Parent
		}
	}
	for _, c := range cuts {
		for !c.IsZero() {
			if _, kept := depth[c]; kept || past[c] {
				break
			}
			commit, err := load(c)
			if libostree.IsNotFound(err) {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			past[c] = true
			doomed = append(doomed, c)
			c = commit.Parent
		}
	}
	for c := range depth {
		keep = append(keep, c)
	}
	slices.SortFunc(keep, func(a, b object.Checksum) int { return strings.Compare(a.String(), b.String()) })
	return keep, doomed, nil
}

// lockingOff says why libostree's repository lock cannot guard a prune
// here ("" when it can): locking turned off (core.locking=false), or a
// blocking lock (core.lock-timeout-secs=-1) that would hold the ref lock
// for as long as another push keeps its transaction open.
func lockingOff(lib *libostree.Repo) string {
	if on, err := lib.ConfigBool("core", "locking"); err == nil && !on {
		if v, ok, _ := lib.ConfigString("core", "locking"); ok && v != "" {
			return "the repository's core.locking is off, so a prune could delete what a concurrent push counts on"
		}
	}
	if v, ok, _ := lib.ConfigString("core", "lock-timeout-secs"); ok && strings.TrimSpace(v) == "-1" {
		return "the repository's core.lock-timeout-secs is -1 (a blocking lock), so the wait for it cannot be bounded"
	}
	return ""
}

// retentionRules are the rules, as the configuration spells them.
func (s *server) retentionRules() string {
	var rules []string
	if n := s.settings.KeepCommits; n > 0 {
		rules = append(rules, fmt.Sprintf("keep_commits: %d", n))
	}
	if age := s.settings.KeepYoungerThan; age > 0 {
		rules = append(rules, fmt.Sprintf("keep_younger_than: %v", age))
	}
	return strings.Join(rules, ", ")
}

// retentionFailed logs and words a failure of retention, which never fails
// the push: its refs have moved.
func (s *server) retentionFailed(err error) []string {
	s.log.Logf(pushlog.Error, "retention: %v", err)
	return []string{"warning: the refs moved, but retention failed: " + err.Error()}
}

// listed is " (a, b, c)" for a short list, " (a, b, c and 7 more)" for a
// long one, "" for none.
func listed(items []string) string {
	const most = 5
	switch {
	case len(items) == 0:
		return ""
	case len(items) <= most:
		return " (" + strings.Join(items, ", ") + ")"
	}
	return fmt.Sprintf(" (%s and %d more)", strings.Join(items[:most], ", "), len(items)-most)
}
