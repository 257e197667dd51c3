package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// summaryWorld is a repository with three commits (c[1] has a version)
// and some refs, plain and mirrored, and a summary of them.
type summaryWorld struct {
	path string
	repo *Repo
	c    [3]object.Checksum
}

func mirror(coll, name string) wire.RefName { return wire.RefName{CollectionID: coll, Name: name} }

func newSummaryWorld(t *testing.T, initArgs ...string) *summaryWorld {
	t.Helper()
	w := &summaryWorld{path: filepath.Join(t.TempDir(), "repo")}
	testrepo.Init(t, w.path, "archive", initArgs...)
	for i, extra := range [][]string{
		nil,
		{"--add-metadata-string=version=2.0", "--timestamp=2025-06-01T12:00:00Z"},
		{"--timestamp=2026-01-01T00:00:00Z"},
	} {
		tree := t.TempDir()
		if err := os.WriteFile(filepath.Join(tree, "file"), []byte(strings.Repeat("x", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		w.c[i] = object.MustParseChecksum(testrepo.Commit(t, w.path, "tmp", tree, "commit", extra...))
	}
	testrepo.Ostree(t, "refs", "--repo="+w.path, "--delete", "tmp")
	r, err := Open(w.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	w.repo = r
	w.set(t, wire.RefName{Name: "main"}, w.c[0])
	w.set(t, wire.RefName{Name: "os/x86_64/stable"}, w.c[1])
	w.set(t, wire.RefName{Name: "z"}, w.c[2])
	w.set(t, mirror("org.example.Mirror", "mirrored"), w.c[0])
	return w
}

func (w *summaryWorld) set(t *testing.T, r wire.RefName, c object.Checksum) {
	t.Helper()
	if r.CollectionID == "" && w.repo != nil {
		r.CollectionID = "" // the repository's own (refs/heads), whatever its collection ID
	}
	if err := w.repo.r.SetRefImmediate(r.CollectionID, r.Name, c); err != nil {
		t.Fatal(err)
	}
}

// move applies moves to the refs and returns them.
func (w *summaryWorld) move(t *testing.T, moves ...RefMove) []RefMove {
	t.Helper()
	for _, m := range moves {
		w.set(t, m.Ref, m.To)
	}
	return moves
}

func (w *summaryWorld) summary(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.path, "summary"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// regenerated returns what libostree writes for the repository as it is
// now, without leaving it there.
func (w *summaryWorld) regenerated(t *testing.T, cli bool) []byte {
	t.Helper()
	keep := w.summary(t)
	if cli {
		testrepo.Ostree(t, "summary", "-u", "--repo="+w.path)
	} else if err := w.repo.r.RegenerateSummary(); err != nil {
		t.Fatal(err)
	}
	data := w.summary(t)
	if err := os.WriteFile(filepath.Join(w.path, "summary"), keep, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// view is `ostree summary --view` without its Last-Modified line.
func view(t *testing.T, path string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(testrepo.Ostree(t, "summary", "--view", "--repo="+path), "\n") {
		if !strings.HasPrefix(l, "Last-Modified") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestUpdateSummaryDerives: the summary derived from the previous one and
// the refs that moved is the one libostree writes for the repository (the
// ostree CLI's `ostree summary -u`, or ostree_repo_regenerate_summary for
// a repository with a collection ID, for which the CLI also commits an
// ostree-metadata ref), byte for byte but for the modification time; and
// `ostree summary --view` and `ostree pull` read it.
func TestUpdateSummaryDerives(t *testing.T) {
	testrepo.RequireTools(t)
	for _, tc := range []struct {
		name  string
		init  []string
		setup func(t *testing.T, w *summaryWorld)
	}{
		{name: "plain"},
		{name: "collection id", init: []string{"--collection-id=org.example.Own"}},
		{name: "static delta", setup: func(t *testing.T, w *summaryWorld) {
			testrepo.Ostree(t, "static-delta", "generate", "--repo="+w.path, "--from="+w.c[0].String(), "--to="+w.c[1].String())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSummaryWorld(t, tc.init...)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			if err := w.repo.r.RegenerateSummary(); err != nil {
				t.Fatal(err)
			}
			before := w.summary(t)
			c := w.c
			moves := w.move(t,
				RefMove{Ref: wire.RefName{Name: "main"}, From: c[0], To: c[1]},
				RefMove{Ref: wire.RefName{Name: "new/ref"}, To: c[2]},
				RefMove{Ref: wire.RefName{Name: "z"}, From: c[2]},
				RefMove{Ref: mirror("org.example.Mirror", "mirrored"), From: c[0], To: c[2]},
				RefMove{Ref: mirror("org.example.Mirror", "b"), To: c[1]},
				RefMove{Ref: mirror("org.example.Another", "x"), To: c[0]},
			)
			if m, ok, err := w.repo.CommitMetadataRef(time.Now(), nil); err != nil {
				t.Fatal(err)
			} else if ok != (tc.init != nil) {
				t.Fatalf("CommitMetadataRef committed: %v, in a repository with a collection ID: %v", ok, tc.init != nil)
			} else if ok {
				moves = append(moves, m)
			}
			derived, why, err := w.repo.UpdateSummary(moves, true)
			if err != nil || !derived {
				t.Fatalf("UpdateSummary = %v (%s), %v; want derived", derived, why, err)
			}
			if tc.init != nil && !strings.Contains(view(t, w.path), "(org.example.Own, ostree-metadata)") {
				t.Errorf("the summary does not list ostree-metadata:\n%s", view(t, w.path))
			}
			testrepo.Fsck(t, w.path)
			got := w.summary(t)
			want := w.regenerated(t, tc.init == nil)
			if eq, err := summary.Equal(got, want); err != nil || !eq {
				t.Errorf("derived summary differs from libostree's (%v):\n%s", err, view(t, w.path))
			}
			if eq, _ := summary.Equal(got, before); eq {
				t.Errorf("the derived summary is the one before the refs moved")
			}
			if _, err := os.Stat(filepath.Join(w.path, "summary.sig")); !os.IsNotExist(err) {
				t.Errorf("summary.sig is still there: %v", err)
			}
			// An HTTP-less reader of the summary: a local pull through it.
			dst := filepath.Join(t.TempDir(), "dst")
			testrepo.Init(t, dst, "archive")
			testrepo.Ostree(t, "remote", "add", "--repo="+dst, "--no-gpg-verify", "origin", "file://"+w.path)
			testrepo.Ostree(t, "pull", "--repo="+dst, "--disable-verify-bindings", "origin", "main", "new/ref") // the commits are bound to the ref they were made on
			if got := testrepo.RevParse(t, dst, "origin:main"); got != c[1].String() {
				t.Errorf("pulled main = %s, want %s", got, c[1])
			}
		})
	}
}

// TestUpdateSummaryFallsBack: whenever the previous summary might not be
// libostree's for the repository as it was, the summary is regenerated in
// full, and says why.
func TestUpdateSummaryFallsBack(t *testing.T) {
	testrepo.RequireTools(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *summaryWorld) []RefMove
		why   string
	}{
		{"no summary", func(t *testing.T, w *summaryWorld) []RefMove {
			os.Remove(filepath.Join(w.path, "summary"))
			return w.move(t, RefMove{Ref: wire.RefName{Name: "main"}, From: w.c[0], To: w.c[1]})
		}, "no summary"},
		{"foreign metadata", func(t *testing.T, w *summaryWorld) []RefMove {
			testrepo.Ostree(t, "summary", "-u", "--repo="+w.path, "--add-metadata=xa.title='A Flatpak repository'")
			return w.move(t, RefMove{Ref: wire.RefName{Name: "main"}, From: w.c[0], To: w.c[1]})
		}, "xa.title"},
		{"stale summary", func(t *testing.T, w *summaryWorld) []RefMove {
			w.set(t, wire.RefName{Name: "main"}, w.c[2]) // moved without a summary update
			return w.move(t, RefMove{Ref: wire.RefName{Name: "main"}, From: w.c[2], To: w.c[1]})
		}, "lists it at"},
		{"new static delta", func(t *testing.T, w *summaryWorld) []RefMove {
			testrepo.Ostree(t, "static-delta", "generate", "--repo="+w.path, "--from="+w.c[0].String(), "--to="+w.c[1].String())
			return w.move(t, RefMove{Ref: wire.RefName{Name: "main"}, From: w.c[0], To: w.c[1]})
		}, "static deltas"},
		{"last collection-ref gone", func(t *testing.T, w *summaryWorld) []RefMove {
			return w.move(t, RefMove{Ref: mirror("org.example.Mirror", "mirrored"), From: w.c[0]})
		}, "last collection-ref"},
		{"tombstones turned on", func(t *testing.T, w *summaryWorld) []RefMove {
			testrepo.Ostree(t, "config", "--repo="+w.path, "set", "core.tombstone-commits", "true")
			r, err := Open(w.path) // libostree reads the config when it opens
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			w.repo = r
			return w.move(t, RefMove{Ref: wire.RefName{Name: "main"}, From: w.c[0], To: w.c[1]})
		}, "tombstone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSummaryWorld(t)
			if err := w.repo.r.RegenerateSummary(); err != nil {
				t.Fatal(err)
			}
			moves := tc.setup(t, w)
			derived, why, err := w.repo.UpdateSummary(moves, true)
			if err != nil || derived || !strings.Contains(why, tc.why) {
				t.Fatalf("UpdateSummary = %v (%q), %v; want regenerated because of %q", derived, why, err, tc.why)
			}
			if eq, err := summary.Equal(w.summary(t), w.regenerated(t, false)); err != nil || !eq {
				t.Errorf("the regenerated summary is not libostree's (%v)", err)
			}
		})
	}
}

// TestSummaryCurrent: the summary counts as current from RecordSummary
// until a ref or the summary changes by any hand.
func TestSummaryCurrent(t *testing.T) {
	testrepo.RequireTools(t)
	w := newSummaryWorld(t)
	if w.repo.SummaryCurrent() {
		t.Errorf("current before any summary was recorded")
	}
	record := func() {
		t.Helper()
		if err := w.repo.r.RegenerateSummary(); err != nil {
			t.Fatal(err)
		}
		if err := w.repo.RecordSummary(); err != nil {
			t.Fatal(err)
		}
		if !w.repo.SummaryCurrent() {
			t.Fatalf("not current right after RecordSummary")
		}
	}
	for _, change := range []struct {
		name string
		do   func()
	}{
		{"a ref set through libostree", func() { w.set(t, wire.RefName{Name: "main"}, w.c[2]) }},
		{"a mirrored ref", func() { w.set(t, mirror("org.example.Mirror", "mirrored"), w.c[1]) }},
		{"ostree refs --delete", func() { testrepo.Ostree(t, "refs", "--repo="+w.path, "--delete", "z") }},
		{"ostree commit", func() { testrepo.Commit(t, w.path, "other", t.TempDir(), "another") }},
		{"ostree summary -u", func() { testrepo.Ostree(t, "summary", "-u", "--repo="+w.path) }},
	} {
		record()
		change.do()
		if w.repo.SummaryCurrent() {
			t.Errorf("%s: the summary still counts as current", change.name)
		}
	}
	record()
	walked := func() int {
		t.Helper()
		os.Remove(filepath.Join(w.path, SummaryStateFile))
		defer record()
		n, err := w.repo.CountRefs()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}()
	if n, err := w.repo.CountRefs(); err != nil || n != walked {
		t.Errorf("CountRefs from the summary = %d, %v; counting the files: %d", n, err, walked)
	}
	testrepo.Ostree(t, "fsck", "--repo="+w.path) // reads only
	if !w.repo.SummaryCurrent() {
		t.Errorf("a read-only ostree fsck made the summary not current")
	}
}

// TestMetadataCommit: the ostree-metadata commit pkg/summary makes is the
// one `ostree summary -u` commits, given its parent and timestamp.
func TestMetadataCommit(t *testing.T) {
	testrepo.RequireTools(t)
	w := newSummaryWorld(t, "--collection-id=org.example.Own")
	for i := 0; i < 2; i++ { // without a parent, then with one
		parent := testrepo.RevParse(t, w.path, summary.MetadataRef)
		testrepo.Ostree(t, "summary", "-u", "--repo="+w.path)
		c := object.MustParseChecksum(testrepo.RevParse(t, w.path, summary.MetadataRef))
		data, err := w.repo.r.ReadMetadata(object.Name{Checksum: c, Type: object.Commit})
		if err != nil {
			t.Fatal(err)
		}
		e, err := summary.CommitEntry(summary.MetadataRef, c, data)
		if err != nil {
			t.Fatal(err)
		}
		var p object.Checksum
		if parent != "" {
			p = object.MustParseChecksum(parent)
		}
		objs := summary.MetadataCommit("org.example.Own", p, e.Timestamp)
		for _, o := range objs {
			got, err := w.repo.r.ReadMetadata(o.Name)
			if err != nil {
				t.Errorf("#%d: %s: %v (the CLI's commit %s has other objects)", i, o.Name, err, c)
			}
			if !bytes.Equal(got, o.Data) {
				t.Errorf("#%d: %s differs from the CLI's", i, o.Name)
			}
		}
		if last := objs[len(objs)-1].Name; last.Checksum != c {
			t.Errorf("#%d: commit %s, the CLI made %s", i, last.Checksum, c)
		}
	}
}

// TestRegenerateIsLibostrees: summary.Regenerate, which makes the summary
// of a repository in an object store, writes the bytes libostree's
// regeneration writes for the same refs (but for the time), so that the
// summaries derived from it later are libostree's too.
func TestRegenerateIsLibostrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	testrepo.Init(t, path, "archive")
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testrepo.Commit(t, path, "b/one", tree, "one")
	testrepo.Commit(t, path, "a/two", tree, "two", "--add-metadata-string=version=3.1")
	testrepo.Ostree(t, "summary", "-u", "--repo="+path)
	want, err := os.ReadFile(filepath.Join(path, "summary"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var entries []summary.Entry
	for _, name := range []string{"b/one", "a/two"} {
		c, _, err := repo.ResolveRev(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := repo.ReadMetadata(object.Name{Checksum: c, Type: object.Commit})
		if err != nil {
			t.Fatal(err)
		}
		e, err := summary.CommitEntry(name, c, data)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	got, err := summary.Regenerate(entries, summary.Repo{Mode: "archive-z2"}, 12345)
	if err != nil {
		t.Fatal(err)
	}
	if same, err := summary.Equal(got, want); err != nil || !same {
		t.Fatalf("Regenerate wrote %x (%v), libostree %x", got, err, want)
	}
}
