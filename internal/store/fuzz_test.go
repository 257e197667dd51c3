package store

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// FuzzReceiveRepo drives whole receive exchanges, the client's frames
// given at once, against a real archive repository through libostree
// (transfer's FuzzReceive does the same against its in-memory store). It
// starts from streams recorded from real pushes into that repository. A
// failed exchange must leave the repository as it was: the same refs and
// the same files under objects/. One that succeeds must leave every ref at
// a complete commit. The repository is reused from one execution to the
// next, so a failure that changes it also shows in the next; it is copied
// afresh from its template only after an exchange that succeeded.
func FuzzReceiveRepo(f *testing.F) {
	testrepo.RequireTools(f)
	fx := newReceiveFixture(f)
	for _, s := range fx.seeds(f) {
		f.Add(s)
	}
	work := filepath.Join(f.TempDir(), "dst")
	copyTree(f, fx.template, work)
	before := repoState(f, work)
	f.Fuzz(func(t *testing.T, input []byte) {
		err := receiveInto(t, work, input)
		after := repoState(t, work)
		if err != nil {
			if !reflect.DeepEqual(after, before) {
				t.Fatalf("the exchange failed (%v) but changed the repository:\n%v\n->\n%v", err, before, after)
			}
			return
		}
		checkRefsComplete(t, work)
		if !reflect.DeepEqual(after, before) {
			os.RemoveAll(work)
			copyTree(t, fx.template, work)
		}
	})
}

// receiveFixture is a source repository with c1 and its child c2 at main
// and dev, and a template destination holding c1 at main.
type receiveFixture struct {
	src, template string
}

func newReceiveFixture(tb testing.TB) *receiveFixture {
	tb.Helper()
	dir := tb.TempDir()
	fx := &receiveFixture{src: filepath.Join(dir, "src"), template: filepath.Join(dir, "template")}
	tree := filepath.Join(dir, "tree")
	// Small, so that the recorded streams are short: the fuzzer's
	// minimization is quadratic in the input's length.
	os.MkdirAll(filepath.Join(tree, "d"), 0o755)
	os.WriteFile(filepath.Join(tree, "a"), []byte("one\n"), 0o644)
	os.Symlink("a", filepath.Join(tree, "d", "link"))
	testrepo.Init(tb, fx.src, "archive")
	testrepo.Init(tb, fx.template, "archive")
	testrepo.Commit(tb, fx.src, "main", tree, "c1")
	// The template gets c1 by a push, as a server would.
	if _, err := recordPush(tb, fx.src, fx.template, transfer.PushOptions{Specs: specs("main")}); err != nil {
		tb.Fatalf("pushing c1 to the template: %v", err)
	}
	os.WriteFile(filepath.Join(tree, "b"), []byte("two\n"), 0o644)
	testrepo.Commit(tb, fx.src, "main", tree, "c2")
	testrepo.Commit(tb, fx.src, "dev", tree, "c2 on dev", "--parent=none")
	return fx
}

func specs(refs ...string) []transfer.PushSpec {
	var s []transfer.PushSpec
	for _, r := range refs {
		src := r
		if strings.HasPrefix(r, ":") {
			src, r = "", r[1:]
		}
		s = append(s, transfer.PushSpec{Src: src, Dst: wire.RefName{Name: r}})
	}
	return s
}

// seeds records the client's side of real pushes into copies of the
// template, and some truncations of the first.
func (fx *receiveFixture) seeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, opts := range []transfer.PushOptions{
		{Specs: specs("main")},
		{Specs: specs("main"), DryRun: true},
		{Specs: specs("main", "dev")},
		{Specs: specs(":main")},
		{Specs: specs("main"), NoCapabilities: []string{wire.CapArchiveFilez}},
	} {
		scratch := filepath.Join(tb.TempDir(), "scratch")
		copyTree(tb, fx.template, scratch)
		rec, err := recordPush(tb, fx.src, scratch, opts)
		if err != nil {
			tb.Fatalf("recording a push %+v: %v", opts, err)
		}
		seeds = append(seeds, rec)
	}
	first := seeds[0]
	for _, n := range []int{1, wire.HeaderSize, len(first) / 3, len(first) / 2, len(first) - 1} {
		seeds = append(seeds, first[:n])
	}
	return seeds
}

// recordPush pushes from the repository src into dest in process and
// returns what the client wrote.
func recordPush(tb testing.TB, src, dest string, opts transfer.PushOptions) ([]byte, error) {
	tb.Helper()
	s, err := Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	d, err := Open(dest)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	var rec bytes.Buffer
	c2s, s2c := newPipe(), newPipe()
	done := make(chan error, 1)
	go func() {
		_, err := transfer.Receive(c2s.r, s2c.w, d, transfer.ReceiveOptions{})
		s2c.w.Close()
		c2s.r.CloseWithError(errors.New("receiver done"))
		done <- err
	}()
	res, err := transfer.Push(s2c.r, io.MultiWriter(c2s.w, &rec), s, opts)
	c2s.w.Close()
	s2c.r.CloseWithError(errors.New("client done"))
	rerr := <-done
	switch {
	case err != nil:
		return nil, err
	case rerr != nil:
		return nil, rerr
	case !res.OK():
		return nil, errors.New("a ref was refused")
	}
	return rec.Bytes(), nil
}

// receiveInto runs one receive of input into the repository at path.
func receiveInto(t *testing.T, path string, input []byte) error {
	t.Helper()
	repo, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	done := make(chan error, 1)
	go func() {
		_, err := transfer.Receive(bytes.NewReader(input), io.Discard, repo, transfer.ReceiveOptions{MaxObjectSize: 4 << 20})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Receive did not return within 30s")
		return nil
	}
}

// repoState is what a reader sees of a repository: every ref file and its
// content, and the files under objects/.
func repoState(tb testing.TB, path string) map[string]string {
	tb.Helper()
	state := map[string]string{}
	for _, dir := range []string{"refs", "objects"} {
		root := filepath.Join(path, dir)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(path, p)
			if dir == "refs" {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				state[rel] = strings.TrimSpace(string(data))
			} else {
				state[rel] = ""
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return state
}

// checkRefsComplete checks that every ref of the repository points at a
// complete commit.
func checkRefsComplete(t *testing.T, path string) {
	t.Helper()
	r, err := libostree.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	refs, err := r.ListRefs("")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		if err := walk.CheckComplete(loader{r}, ref.Commit, object.Zero); err != nil {
			t.Fatalf("ref %s points at an incomplete commit: %v", ref.Name, err)
		}
		if c, err := r.LoadCommit(ref.Commit); err != nil || c.Partial {
			t.Fatalf("ref %s: commit %s: partial or unreadable (%v)", ref.Name, ref.Commit, err)
		}
	}
}

// copyTree copies a directory with cp -a.
func copyTree(tb testing.TB, from, to string) {
	tb.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		tb.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}

// TestReceiveRepoSeeds checks that the recorded streams FuzzReceiveRepo
// starts from succeed when replayed into the template: the fuzzer then
// starts deep in the exchange.
func TestReceiveRepoSeeds(t *testing.T) {
	testrepo.RequireTools(t)
	fx := newReceiveFixture(t)
	for i, seed := range fx.seeds(t)[:5] {
		work := filepath.Join(t.TempDir(), "dst")
		copyTree(t, fx.template, work)
		before := repoState(t, work)
		if err := receiveInto(t, work, seed); err != nil {
			t.Fatalf("seed %d: replay: %v", i, err)
		}
		checkRefsComplete(t, work)
		if changed := !reflect.DeepEqual(repoState(t, work), before); changed != (i != 1) {
			t.Errorf("seed %d: repository changed: %v, want %v (only the dry run changes nothing)", i, changed, i != 1)
		}
	}
}
