package benchgen

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// verifyRepo commits a small generated tree (and detached metadata, which
// Verify must skip) into a new archive repository.
func verifyRepo(t *testing.T) string {
	t.Helper()
	testrepo.RequireTools(t)
	tree := filepath.Join(t.TempDir(), "tree")
	if err := Generate(Config{Seed: 3, Files: 300}).Write(tree); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	testrepo.Init(t, repo, "archive")
	testrepo.Commit(t, repo, "main", tree, "one", "--add-detached-metadata-string=note=hello")
	return repo
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	repo := verifyRepo(t)
	files := testrepo.ObjectFiles(t, repo)
	var want VerifyStats
	var filez []string
	for _, f := range files {
		if strings.HasSuffix(f, ".commitmeta") {
			want.Skipped++
			continue
		}
		fi, err := os.Stat(filepath.Join(repo, "objects", f))
		if err != nil {
			t.Fatal(err)
		}
		want.Objects++
		want.Bytes += fi.Size()
		if strings.HasSuffix(f, ".filez") {
			filez = append(filez, f)
		}
	}
	if want.Skipped != 1 || len(filez) < 100 {
		t.Fatalf("the test repository has %d .commitmeta and %d .filez", want.Skipped, len(filez))
	}
	for _, j := range []int{1, 2} {
		got, err := Verify(repo, nil, j)
		if err != nil {
			t.Fatalf("j=%d: %v", j, err)
		}
		if got.Objects != want.Objects || got.Skipped != want.Skipped || got.Bytes != want.Bytes {
			t.Errorf("j=%d: %+v, want %d objects, %d skipped, %d bytes", j, got, want.Objects, want.Skipped, want.Bytes)
		}
		if got.Inflated <= got.Bytes/2 {
			t.Errorf("j=%d: %d bytes inflated from %d", j, got.Inflated, got.Bytes)
		}
	}

	// A list as ci/bench writes it: ./XX/REST.TYPE, one a line.
	list := filepath.Join(t.TempDir(), "list")
	os.WriteFile(list, []byte("./"+filez[0]+"\n./"+filez[1]+"\n\n"), 0o644)
	paths, err := ReadObjectList(list)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(repo, paths, 2)
	if err != nil || got.Objects != 2 {
		t.Errorf("listed: %+v, %v; want 2 objects", got, err)
	}
	os.WriteFile(list, nil, 0o644)
	if paths, err = ReadObjectList(list); err != nil {
		t.Fatal(err)
	}
	if got, err := Verify(repo, paths, 1); err != nil || got.Objects != 0 {
		t.Errorf("empty list: %+v, %v; want nothing verified", got, err)
	}
}

func TestVerifyCorrupt(t *testing.T) {
	repo := verifyRepo(t)
	var filez, dirtree string
	for _, f := range testrepo.ObjectFiles(t, repo) {
		switch {
		case strings.HasSuffix(f, ".filez") && filez == "":
			if fi, _ := os.Stat(filepath.Join(repo, "objects", f)); fi.Size() > 200 {
				filez = f
			}
		case strings.HasSuffix(f, ".dirtree"):
			dirtree = f
		}
	}
	for _, c := range []struct {
		name, path string
		change     func([]byte) []byte
		want       string
	}{
		{"flipped deflate byte", filez, func(b []byte) []byte { b[len(b)-5] ^= 0x55; return b }, filez},
		{"trailing byte", filez, func(b []byte) []byte { return append(b, 0) }, "trailing"},
		{"dirtree byte", dirtree, func(b []byte) []byte { b[0] ^= 1; return b }, "hashes to"},
	} {
		for _, j := range []int{1, 2} {
			bad := filepath.Join(t.TempDir(), "bad")
			copyTree(t, repo, bad)
			p := filepath.Join(bad, "objects", c.path)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, c.change(b), 0o644)
			_, err = Verify(bad, nil, j)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, j=%d: error %v, want one with %q", c.name, j, err, c.want)
			}
		}
	}
	// Another object's bytes under this name: valid, but not this object.
	bad := filepath.Join(t.TempDir(), "bad")
	copyTree(t, repo, bad)
	var other string
	for _, f := range testrepo.ObjectFiles(t, bad) {
		if strings.HasSuffix(f, ".filez") && f != filez {
			other = f
			break
		}
	}
	b, _ := os.ReadFile(filepath.Join(bad, "objects", other))
	os.WriteFile(filepath.Join(bad, "objects", filez), b, 0o644)
	if _, err := Verify(bad, []string{"./" + filez}, 1); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Errorf("swapped object: error %v", err)
	}
}
