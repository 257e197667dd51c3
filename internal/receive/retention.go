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

// maxHistory bounds a walk down a ref's history.
const maxHistory = 1 << 20

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
		_, doomed, err := s.history(u.New, now, true)
		if err != nil {
			return s.retentionFailed(err)
		}
		if len(doomed) > 0 {
			due = true
			break
		}
	}
	if !due {
		return nil
	}
	lib := s.repo.Lib()
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
	var keep, doomed []object.Checksum
	for _, tip := range tips {
		k, d, err := s.history(tip, now, false)
		if err != nil {
			return s.retentionFailed(err)
		}
		keep = append(keep, k...)
		doomed = append(doomed, d...)
	}
	slices.SortFunc(keep, func(a, b object.Checksum) int { return strings.Compare(a.String(), b.String()) })
	keep = slices.Compact(keep)
	deltasBefore, err := lib.StaticDeltaNames()
	if err != nil {
		return s.retentionFailed(err)
	}
	st, err := lib.PruneUnreachable(keep)
	if err != nil {
		return s.retentionFailed(err)
	}
	s.summaryCurrent = false // deltas may have gone: the summary is made whole
	// The commits that went: those past the rules that no ref keeps.
	var pruned []string
	if len(doomed) > 0 {
		names := make([]object.Name, len(doomed))
		for i, c := range doomed {
			names[i] = object.Name{Checksum: c, Type: object.Commit}
		}
		if have, err := lib.HasObjects(names); err == nil {
			for i, h := range have {
				if !h && !slices.Contains(pruned, doomed[i].Short()) {
					pruned = append(pruned, doomed[i].Short())
				}
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

// history walks down from tip: the commits the rules keep (tip always,
// then while either rule keeps them) and those past them (once one is not
// kept, it and every older one there is). With first, it stops at the
// first commit past them.
func (s *server) history(tip object.Checksum, now time.Time, first bool) (keep, doomed []object.Checksum, err error) {
	n, age := s.settings.KeepCommits, s.settings.KeepYoungerThan
	lib := s.repo.Lib()
	past := false
	for i, c := 0, tip; !c.IsZero() && i < maxHistory; i++ {
		commit, err := lib.LoadCommit(c)
		if libostree.IsNotFound(err) {
			break // the history here ends
		}
		if err != nil {
			return nil, nil, err
		}
		if !past && i > 0 && !(n > 0 && i < n) && !(age > 0 && now.Sub(commit.Timestamp) < age) {
			past = true
		}
		if !past {
			keep = append(keep, c)
		} else {
			doomed = append(doomed, c)
			if first {
				break
			}
		}
		c = commit.Parent
	}
	return keep, doomed, nil
}

// allTips lists the commit of every ref of the repository: its own refs
// and every collection's.
func (s *server) allTips() ([]object.Checksum, error) {
	lib := s.repo.Lib()
	plain, err := lib.ListRefs("")
	if err != nil {
		return nil, err
	}
	coll, err := lib.ListCollectionRefs()
	if err != nil {
		return nil, err
	}
	var tips []object.Checksum
	for _, r := range plain {
		tips = append(tips, r.Commit)
	}
	for _, r := range coll {
		tips = append(tips, r.Commit)
	}
	return tips, nil
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
