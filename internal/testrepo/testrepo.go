package testrepo

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireTools fails the test (under CI=true) or skips it (elsewhere) when
// the ostree command is missing.
func RequireTools(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ostree"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ostree command not found (run ci/setup): %v", err)
		}
		t.Skipf("ostree command not found (run ci/setup): %v", err)
	}
}

// Ostree runs `ostree ARGS...` and returns its stdout; it fails the test on
// error.
func Ostree(t testing.TB, args ...string) string {
	t.Helper()
	out, err := OstreeErr(args...)
	if err != nil {
		t.Fatalf("ostree %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// OstreeErr runs `ostree ARGS...` and returns stdout, or an error that
// includes stderr.
func OstreeErr(args ...string) (string, error) {
	cmd := exec.Command("ostree", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Init creates an empty repository with `ostree init`.
func Init(t testing.TB, path, mode string, extra ...string) {
	t.Helper()
	Ostree(t, append([]string{"init", "--repo=" + path, "--mode=" + mode}, extra...)...)
}

// Commit commits the directory tree to branch and returns the checksum.
func Commit(t testing.TB, repo, branch, tree, subject string, extra ...string) string {
	t.Helper()
	args := append([]string{"commit", "--repo=" + repo, "--branch=" + branch,
		"--subject=" + subject, "--tree=dir=" + tree, "--timestamp=2024-01-01T00:00:00Z"}, extra...)
	return strings.TrimSpace(Ostree(t, args...))
}

// RevParse returns what `ostree rev-parse` says of rev, or "" when it fails.
func RevParse(t testing.TB, repo, rev string) string {
	t.Helper()
	out, err := OstreeErr("rev-parse", "--repo="+repo, rev)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// Fsck runs `ostree fsck` and fails the test if it reports a problem.
func Fsck(t testing.TB, repo string) {
	t.Helper()
	if out, err := OstreeErr("fsck", "--repo="+repo); err != nil {
		t.Fatalf("ostree fsck %s: %v\n%s", repo, err, out)
	}
}

// ObjectFiles lists the files under repo/objects (relative paths), sorted:
// what a reader of the repository can see.
func ObjectFiles(t testing.TB, repo string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(repo, "objects")
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TreeOptions shape a generated tree.
type TreeOptions struct {
	Files   int   // regular files (default 300)
	Seed    int64 // for the random generator; the same seed gives the same tree
	BigFile int   // size of one extra large file in bytes (0: none)
}

// GenerateTree writes a deterministic tree under dir: nested directories
// (up to 6 deep), regular files of 0 to 16 KiB with some duplicated
// contents, about 5% executables, about 4% symlinks, some empty files, and
// optionally one large file.
func GenerateTree(t testing.TB, dir string, opts TreeOptions) {
	t.Helper()
	if opts.Files == 0 {
		opts.Files = 300
	}
	rng := rand.New(rand.NewSource(opts.Seed))
	var dirs = []string{"."}
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o755))
	var previous [][]byte
	for i := 0; i < opts.Files; i++ {
		// Now and then open a new directory under an existing one.
		if rng.Intn(12) == 0 {
			parent := dirs[rng.Intn(len(dirs))]
			if strings.Count(parent, "/") < 6 {
				d := filepath.Join(parent, fmt.Sprintf("d%03d", len(dirs)))
				must(os.MkdirAll(filepath.Join(dir, d), 0o755))
				dirs = append(dirs, d)
			}
		}
		d := dirs[rng.Intn(len(dirs))]
		name := filepath.Join(dir, d, fmt.Sprintf("f%05d", i))
		switch r := rng.Intn(100); {
		case r < 4:
			must(os.Symlink(fmt.Sprintf("../target-%d", rng.Intn(50)), name))
			continue
		case r < 7:
			must(os.WriteFile(name, nil, 0o644))
			continue
		case r < 12 && len(previous) > 0:
			must(os.WriteFile(name, previous[rng.Intn(len(previous))], 0o644))
			continue
		}
		data := make([]byte, rng.Intn(16<<10))
		if rng.Intn(2) == 0 {
			rng.Read(data)
		} else {
			for j := range data {
				data[j] = "abcdefghij klmnop\n"[rng.Intn(18)]
			}
		}
		mode := os.FileMode(0o644)
		if rng.Intn(20) == 0 {
			mode = 0o755
		}
		must(os.WriteFile(name, data, mode))
		must(os.Chmod(name, mode))
		if len(previous) < 20 {
			previous = append(previous, data)
		}
	}
	if opts.BigFile > 0 {
		data := make([]byte, opts.BigFile)
		rng.Read(data)
		must(os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644))
	}
}

// ChangeTree modifies about percent% of the files of a generated tree:
// rewrites some, removes some and adds new ones, deterministically.
func ChangeTree(t testing.TB, dir string, seed int64, percent int) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	var files []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	n := len(files) * percent / 100
	if n == 0 {
		n = 1
	}
	for i := 0; i < n; i++ {
		f := files[rng.Intn(len(files))]
		switch rng.Intn(3) {
		case 0:
			os.Remove(f)
		default:
			data := make([]byte, rng.Intn(8<<10)+1)
			rng.Read(data)
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < n/2+1; i++ {
		data := make([]byte, rng.Intn(4<<10)+1)
		rng.Read(data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("new-%d-%d", seed, i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
