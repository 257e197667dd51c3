package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

func TestJournalFormat(t *testing.T) {
	c1 := object.MustParseChecksum(strings.Repeat("ab", 32))
	c2 := object.MustParseChecksum(strings.Repeat("cd", 32))
	j := &journal{
		Refs: []journalRef{
			{Name: "os/main", Old: c1, New: c2},
			{CollectionID: "org.example.Os", Name: "os/new", New: c2},
			{Name: "os/gone", Old: c1},
		},
		Metas: []stagedMeta{{Commit: c2, Sum: [32]byte{7}}},
	}
	data := j.marshal()
	got, err := parseJournal(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if string(got.marshal()) != string(data) {
		t.Fatalf("round trip:\n%s\nbecame\n%s", data, got.marshal())
	}
	text := string(data)
	for name, bad := range map[string]string{
		"cut short":       strings.TrimSuffix(text, "end\n"),
		"cut mid-line":    text[:len(text)/2],
		"after end":       text + "ref - x - -\n",
		"other version":   strings.Replace(text, "journal 1", "journal 2", 1),
		"bad checksum":    strings.Replace(text, strings.Repeat("cd", 32), strings.Repeat("zz", 32), 1),
		"bad meta sum":    strings.Replace(text, "0700000000", "07zz000000", 1),
		"bad ref name":    strings.Replace(text, "os/main", "os/../main", 1),
		"control in name": strings.Replace(text, "os/main", "os/\x1bmain", 1),
		"unknown line":    strings.Replace(text, "end\n", "move everything\nend\n", 1),
		"empty":           "",
	} {
		if _, err := parseJournal([]byte(bad)); err == nil {
			t.Errorf("%s: accepted\n%q", name, bad)
		}
	}
}

// journalRepo is an archive repository with two complete commits, c1 and
// c2, and refs a and b at c1.
type journalRepo struct {
	path   string
	c1, c2 object.Checksum
	r      *Repo
	notes  []string
}

func newJournalRepo(t *testing.T, config ...string) *journalRepo {
	t.Helper()
	testrepo.RequireTools(t)
	dir := t.TempDir()
	jr := &journalRepo{path: filepath.Join(dir, "repo")}
	testrepo.Init(t, jr.path, "archive")
	for i := 0; i+1 < len(config); i += 2 {
		testrepo.Ostree(t, "config", "--repo="+jr.path, "set", config[i], config[i+1])
	}
	tree := filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 20, Seed: 5})
	jr.c2 = object.MustParseChecksum(testrepo.Commit(t, jr.path, "scratch", tree, "two"))
	testrepo.ChangeTree(t, tree, 6, 50)
	jr.c1 = object.MustParseChecksum(testrepo.Commit(t, jr.path, "a", tree, "one"))
	testrepo.Ostree(t, "refs", "--repo="+jr.path, "--create=b", "a")
	testrepo.Ostree(t, "refs", "--repo="+jr.path, "--delete", "scratch")
	r, err := Open(jr.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.Logf = func(format string, args ...any) { jr.notes = append(jr.notes, fmt.Sprintf(format, args...)) }
	jr.r = r
	return jr
}

func (jr *journalRepo) ref(t *testing.T, name string) string {
	t.Helper()
	out, err := testrepo.OstreeErr("rev-parse", "--repo="+jr.path, name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func (jr *journalRepo) wantRefs(t *testing.T, a, b object.Checksum) {
	t.Helper()
	if got := jr.ref(t, "a"); got != a.String() {
		t.Errorf("a = %s, want %s", got, a)
	}
	if got := jr.ref(t, "b"); got != b.String() {
		t.Errorf("b = %s, want %s", got, b)
	}
}

// settle takes and drops the ref lock, which settles any journal.
func (jr *journalRepo) settle(t *testing.T) error {
	t.Helper()
	unlock, err := jr.r.LockRefs()
	if err == nil {
		unlock()
	}
	return err
}

func (jr *journalRepo) journalExists() bool {
	_, err := os.Stat(filepath.Join(jr.path, JournalFile))
	return err == nil
}

// TestJournalRecovery leaves journals as a crash would and checks what the
// next holder of the ref lock makes of them.
func TestJournalRecovery(t *testing.T) {
	missing := object.MustParseChecksum(strings.Repeat("ef", 32))
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, jr *journalRepo) *journal
		a, b    func(jr *journalRepo) object.Checksum // the refs afterwards
		note    string
	}{{
		name: "half moved: rolled forward",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			testrepo.Ostree(t, "refs", "--repo="+jr.path, "--create=a", jr.c2.String(), "--force")
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}, {Name: "b", Old: jr.c1, New: jr.c2}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c2 },
		b:    func(jr *journalRepo) object.Checksum { return jr.c2 },
		note: "completed an interrupted push: a, b moved",
	}, {
		name: "none moved, objects in: rolled forward",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}, {Name: "b", Old: jr.c1}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c2 },
		b:    func(jr *journalRepo) object.Checksum { return object.Zero },
		note: "completed",
	}, {
		name: "a commit not in objects/: dropped",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}, {Name: "b", Old: jr.c1, New: missing}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		b:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		note: "had not finished writing its objects: a, b left as they were",
	}, {
		name: "a commit incomplete: dropped",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			removeOneFile(t, jr.path)
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		b:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		note: "left as they were",
	}, {
		name: "detached metadata not in objects/: dropped",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}}, Metas: []stagedMeta{{Commit: jr.c2}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		b:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		note: "left as they were",
	}, {
		name: "older detached metadata in objects/ than the push staged: dropped",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			path := jr.r.committedPath(object.Name{Checksum: jr.c2, Type: object.CommitMeta})
			if err := os.WriteFile(path, []byte{}, 0o644); err != nil {
				t.Fatal(err)
			}
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}}, Metas: []stagedMeta{{Commit: jr.c2, Sum: sha256.Sum256([]byte("new signatures"))}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		b:    func(jr *journalRepo) object.Checksum { return jr.c1 },
		note: "left as they were",
	}, {
		name: "a ref moved by someone else since: left alone",
		prepare: func(t *testing.T, jr *journalRepo) *journal {
			testrepo.Ostree(t, "refs", "--repo="+jr.path, "--delete", "b")
			return &journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}, {Name: "b", Old: jr.c1, New: jr.c2}}}
		},
		a:    func(jr *journalRepo) object.Checksum { return jr.c2 },
		b:    func(jr *journalRepo) object.Checksum { return object.Zero },
		note: "completed",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			jr := newJournalRepo(t)
			j := tc.prepare(t, jr)
			if err := jr.r.writeJournal(j, false); err != nil {
				t.Fatal(err)
			}
			if err := jr.settle(t); err != nil {
				t.Fatal(err)
			}
			want := func(c object.Checksum) string {
				if c.IsZero() {
					return ""
				}
				return c.String()
			}
			if got := jr.ref(t, "a"); got != want(tc.a(jr)) {
				t.Errorf("a = %q, want %q", got, want(tc.a(jr)))
			}
			if got := jr.ref(t, "b"); got != want(tc.b(jr)) {
				t.Errorf("b = %q, want %q", got, want(tc.b(jr)))
			}
			if jr.journalExists() {
				t.Error("the journal is still there")
			}
			if len(jr.notes) != 1 || !strings.Contains(jr.notes[0], tc.note) {
				t.Errorf("notes %q, want one with %q", jr.notes, tc.note)
			}
		})
	}

	t.Run("a corrupt journal stops the push", func(t *testing.T) {
		jr := newJournalRepo(t)
		os.WriteFile(filepath.Join(jr.path, JournalFile), []byte(journalMagic+"\nref - a\n"), 0o644)
		err := jr.settle(t)
		if err == nil || !strings.Contains(err.Error(), JournalFile) {
			t.Fatalf("LockRefs: %v, want an error naming the journal", err)
		}
		jr.wantRefs(t, jr.c1, jr.c1)
		if !jr.journalExists() {
			t.Error("the corrupt journal was removed")
		}
		// Past journalRetryFor it is set aside, with a warning, and the
		// repository takes pushes again.
		old := time.Now().Add(-2 * journalRetryFor)
		os.Chtimes(filepath.Join(jr.path, JournalFile), old, old)
		if err := jr.settle(t); err != nil {
			t.Fatalf("LockRefs after %s: %v", journalRetryFor, err)
		}
		if jr.journalExists() || len(jr.notes) != 1 || !strings.Contains(jr.notes[0], "set aside") {
			t.Errorf("journal there: %v; notes %q", jr.journalExists(), jr.notes)
		}
		if _, err := os.Stat(filepath.Join(jr.path, JournalFile+".failed")); err != nil {
			t.Errorf("the journal set aside: %v", err)
		}
	})

	t.Run("a journal that is a link is not followed", func(t *testing.T) {
		jr := newJournalRepo(t)
		target := filepath.Join(t.TempDir(), "elsewhere")
		os.WriteFile(target, (&journal{Refs: []journalRef{{Name: "a", Old: jr.c1, New: jr.c2}}}).marshal(), 0o644)
		if err := os.Symlink(target, filepath.Join(jr.path, JournalFile)); err != nil {
			t.Fatal(err)
		}
		if err := jr.settle(t); err == nil {
			t.Fatal("LockRefs followed a journal link")
		}
		jr.wantRefs(t, jr.c1, jr.c1)
		// Writing one replaces a link at the temporary name, never
		// writing through it.
		tmp := filepath.Join(jr.path, JournalFile+".tmp")
		os.Remove(filepath.Join(jr.path, JournalFile))
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(target)
		if err := jr.r.writeJournal(&journal{}, false); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(target); !bytes.Equal(after, before) {
			t.Error("writeJournal wrote through a link")
		}
	})
}

// removeOneFile removes one .filez of the repository's objects.
func removeOneFile(t *testing.T, repo string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repo, "objects", "*", "*.filez"))
	if len(files) == 0 {
		t.Fatal("no .filez in the repository")
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitRefWriteFails makes the second ref of a push fail to write (a
// ref "a" exists, so "a/x" cannot): the error says that refs moved, the
// journal stays, and once the obstacle is gone the next holder of the ref
// lock moves the rest.
func TestCommitRefWriteFails(t *testing.T) {
	jr := newJournalRepo(t)
	tx, err := jr.r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"b", "a/x"} {
		if err := tx.SetRef(wire.RefName{Name: r}, jr.c2); err != nil {
			t.Fatal(err)
		}
	}
	err = tx.Commit()
	if err == nil || !strings.Contains(err.Error(), "1 of the push's 2 refs moved") || !strings.Contains(err.Error(), "ref journal") {
		t.Fatalf("Commit: %v, want the truth about the refs", err)
	}
	if !jr.journalExists() {
		t.Fatal("no journal after a failed ref write")
	}
	jr.wantRefs(t, jr.c1, jr.c2)
	if err := jr.settle(t); err == nil {
		t.Fatal("the journal was settled although a/x still cannot be written")
	}
	testrepo.Ostree(t, "refs", "--repo="+jr.path, "--delete", "a")
	if err := jr.settle(t); err != nil {
		t.Fatal(err)
	}
	if got := jr.ref(t, "a/x"); got != jr.c2.String() {
		t.Errorf("a/x = %q, want %s", got, jr.c2)
	}
	if jr.journalExists() {
		t.Error("the journal is still there")
	}
	testrepo.Fsck(t, jr.path)
}

// TestCommitModes moves two refs and deletes one in each of the commit
// protocol's ways of syncing: the journal is gone afterwards, the refs are
// where they should be, and a summary is made when the config asks for one
// on each ref.
func TestCommitModes(t *testing.T) {
	for _, mode := range []struct {
		name    string
		config  []string
		summary bool
	}{
		{"fsync", nil, false},
		{"auto-update-summary", []string{"core.auto-update-summary", "true"}, true},
		{"no fsync", []string{"core.fsync", "false"}, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			jr := newJournalRepo(t, mode.config...)
			tx, err := jr.r.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range []struct {
				name string
				c    object.Checksum
			}{{"a", jr.c1}, {"a", jr.c2}, {"b", object.Zero}, {"c", jr.c2}} {
				if err := tx.SetRef(wire.RefName{Name: u.name}, u.c); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if jr.ref(t, "a") != jr.c2.String() || jr.ref(t, "b") != "" || jr.ref(t, "c") != jr.c2.String() {
				t.Errorf("refs after the commit: a=%q b=%q c=%q", jr.ref(t, "a"), jr.ref(t, "b"), jr.ref(t, "c"))
			}
			if jr.journalExists() {
				t.Error("the journal is still there")
			}
			_, err = os.Stat(filepath.Join(jr.path, "summary"))
			if (err == nil) != mode.summary {
				t.Errorf("summary: %v, want one: %v", err, mode.summary)
			}
			testrepo.Ostree(t, "prune", "--repo="+jr.path, "--refs-only") // the repository lock was released
			testrepo.Fsck(t, jr.path)
		})
	}
}
