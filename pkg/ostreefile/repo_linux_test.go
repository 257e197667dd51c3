package ostreefile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// Every .filez libostree wrote validates to its own name, and its header
// re-serializes to the same bytes.
func TestValidateFilezRepo(t *testing.T) {
	f := getFixture(t)
	if len(f.objects) < 3000 {
		t.Fatalf("only %d .filez objects; the test wants at least 3000", len(f.objects))
	}
	var compressed, inflated uint64
	var symlinks, empty, xattrs, wide int
	start := time.Now()
	for _, o := range f.objects {
		sum, err := ValidateFilez(bytes.NewReader(o.data), uint64(len(o.data)))
		if err != nil {
			t.Errorf("%s.filez: %v", o.name, err)
			continue
		}
		if sum.String() != o.name {
			t.Errorf("%s.filez: ValidateFilez returned %s", o.name, sum)
		}
		compressed += uint64(len(o.data))
		inflated += o.size
	}
	elapsed := time.Since(start)
	t.Logf("validated %d objects, %.1f MB compressed (%.1f MB inflated) in %v: %.0f MB/s of .filez input, %.0f objects/s",
		len(f.objects), float64(compressed)/1e6, float64(inflated)/1e6, elapsed.Round(time.Millisecond),
		float64(compressed)/1e6/elapsed.Seconds(), float64(len(f.objects))/elapsed.Seconds())

	for _, o := range f.objects {
		hdr := o.header()
		if got := o.h.MarshalArchive(o.size); !bytes.Equal(got, hdr) {
			t.Errorf("%s.filez: MarshalArchive gives\n%x\nlibostree wrote\n%x", o.name, got, hdr)
		}
		// The checksummed form is the same fields without the size.
		if h2, err := ParseFileHeader(o.h.Marshal()); err != nil || !equalHeaders(h2, o.h) {
			t.Errorf("%s: Marshal/ParseFileHeader round trip: %v", o.name, err)
		}
		switch {
		case o.h.IsSymlink():
			symlinks++
			// What libostree writes for a symlink: the header, size 0, and nothing else.
			if o.size != 0 || len(o.payload()) != 0 {
				t.Errorf("%s: symlink with size %d and %d bytes after the header", o.name, o.size, len(o.payload()))
			}
		case o.size == 0:
			empty++
			if !bytes.Equal(o.payload(), []byte{3, 0}) {
				t.Errorf("%s: empty file's deflate stream is %x, not 0300", o.name, o.payload())
			}
		}
		if len(o.h.Xattrs) > 0 {
			xattrs++
		}
		if len(hdr) > 255 {
			wide++
		}
	}
	t.Logf("%d symlinks, %d empty files, %d with xattrs, %d headers with 2-byte or wider offsets", symlinks, empty, xattrs, wide)
	if symlinks == 0 || empty == 0 || wide == 0 || (f.xattrs && xattrs == 0) {
		t.Error("the fixture lacks a kind of object it should have")
	}

	// The result does not depend on how the reader splits its data.
	for i, o := range f.objects {
		if i%97 != 0 {
			continue
		}
		for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(o.data)), iotest.DataErrReader(bytes.NewReader(o.data))} {
			if sum, err := ValidateFilez(r, uint64(len(o.data))); err != nil || sum.String() != o.name {
				t.Errorf("%s.filez through %T: %v, %v", o.name, r, sum, err)
			}
		}
	}
}

func equalHeaders(a, b *FileHeader) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

// Checksum of the header made from lstat and the file's content gives the
// name `ostree commit` gave the file, for every file of every tree.
func TestChecksumMatchesOstree(t *testing.T) {
	f := getFixture(t)
	n := 0
	for _, tr := range f.trees {
		want := lsChecksums(t, f.repo, tr.branch)
		err := filepath.Walk(tr.dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel := "/" + strings.TrimPrefix(p, tr.dir+"/")
			h := lstatHeader(t, p, tr.uid, tr.gid)
			var content io.Reader
			if h.IsRegular() {
				fh, err := os.Open(p)
				if err != nil {
					return err
				}
				defer fh.Close()
				content = fh
			}
			sum, err := Checksum(h, content)
			if err != nil {
				return err
			}
			if want[rel] == "" {
				t.Errorf("%s %s: not in ostree ls", tr.branch, rel)
			} else if sum.String() != want[rel] {
				t.Errorf("%s %s: Checksum %s, ostree says %s", tr.branch, rel, sum, want[rel])
			}
			// And the archive object of that name has this header.
			if o := f.byName[sum.String()]; o == nil || !bytes.Equal(o.h.Marshal(), h.Marshal()) {
				t.Errorf("%s %s: no object %s with the same header", tr.branch, rel, sum)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files checksummed like ostree", n)
}

// `ostree checksum FILE` and `ostree checksum --ignore-xattrs FILE` agree
// with Checksum for each special file.
func TestChecksumMatchesOstreeChecksumCLI(t *testing.T) {
	f := getFixture(t)
	dir := f.trees[1].dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), "3m") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		h := lstatHeader(t, p, -1, -1)
		for _, ignore := range []bool{false, true} {
			args := []string{"checksum", p}
			hh := *h
			if ignore {
				args = []string{"checksum", "--ignore-xattrs", p}
				hh.Xattrs = nil
			}
			want := strings.TrimSpace(testrepo.Ostree(t, args...))
			var content io.Reader
			if h.IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				content = bytes.NewReader(data)
			}
			sum, err := Checksum(&hh, content)
			if err != nil {
				t.Fatal(err)
			}
			if sum.String() != want {
				t.Errorf("ostree %s: %s, Checksum gives %s", strings.Join(args, " "), want, sum)
			}
		}
	}
}

// The content stream of each special file (and of some generated ones)
// parses back to its header and content, and hashes to its name.
func TestParseContentStreamRepo(t *testing.T) {
	f := getFixture(t)
	n := 0
	for ti, tr := range f.trees {
		want := lsChecksums(t, f.repo, tr.branch)
		i := 0
		filepath.Walk(tr.dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			if i++; ti == 0 && i%20 != 0 {
				return nil
			}
			h := lstatHeader(t, p, tr.uid, tr.gid)
			var content []byte
			if h.IsRegular() {
				if content, err = os.ReadFile(p); err != nil {
					t.Fatal(err)
				}
			}
			stream := append(h.ContentStreamHeader(), content...)
			h2, r, err := ParseContentStream(bytes.NewReader(stream), uint64(len(stream)))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, content) || !equalHeaders(h, h2) {
				t.Errorf("%s: content stream round trip: %v", p, err)
			}
			if sum := sha256.Sum256(stream); object.Checksum(sum).String() != want["/"+strings.TrimPrefix(p, tr.dir+"/")] {
				t.Errorf("%s: content stream hashes to %x", p, sum)
			}
			n++
			return nil
		})
	}
	t.Logf("%d content streams", n)
}

// libostree accepts the four corruptions of the named tests: `ostree fsck`
// passes on a repository holding them in place of the objects libostree
// wrote, and `ostree pull-local` copies them as they are into another
// archive repository. Of the four, a wrong size field is the one that
// visibly breaks a bare-user repository pulling from it: one byte too many
// fails the pull ("Unexpected EOF with 1/N bytes remaining"), one too few
// stores a truncated file that then fails `ostree fsck`; a huge size fails
// the pull's free-space check. The others are copied on as they are.
// ValidateFilez rejects all of them.
func TestLibostreeAcceptsCorruptions(t *testing.T) {
	testrepo.RequireTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	content := bytes.Repeat([]byte("some compressible text\n"), 200)
	if err := os.WriteFile(filepath.Join(tree, "file"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	testrepo.Init(t, repo, "archive")
	testrepo.Commit(t, repo, "main", tree, "test")
	name := strings.Fields(strings.TrimSpace(testrepo.Ostree(t, "ls", "--repo="+repo, "-C", "main", "/file")))[4]
	path := filepath.Join(repo, "objects", name[:2], name[2:]+".filez")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o := &fixtureObject{name: name, data: orig}
	o.h, o.size, err = ParseArchiveHeader(o.header())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, rule string
		data       []byte
		bareUser   string // what a bare-user pull-local does: "" works, else the error
	}{
		{"padding byte 2 set", RulePadding, withPadding(o, 2, 1), ""},
		{"size field one too big", RuleSize, withSize(o, o.size+1), "Unexpected EOF"},
		{"size field one too small", RuleSize, withSize(o, o.size-1), "fsck"},
		{"size field huge", RuleSize, withSize(o, 1<<40), "any error"},
		{"regular file with a symlink target", RuleSymlinkTarget, withTarget(o, "../../etc/passwd"), ""},
		{"bytes after the deflate stream", RuleTrailingData, append(bytes.Clone(orig), "junk"...), ""},
	} {
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := testrepo.OstreeErr("fsck", "--repo="+repo); err != nil {
			t.Errorf("%s: ostree fsck refuses it (%v); the demonstration no longer holds\n%s", c.what, err, out)
		}
		ar := filepath.Join(dir, "ar-"+strings.ReplaceAll(c.what, " ", "-"))
		testrepo.Init(t, ar, "archive")
		testrepo.Ostree(t, "pull-local", "--repo="+ar, repo, "main")
		if got, _ := os.ReadFile(filepath.Join(ar, "objects", name[:2], name[2:]+".filez")); !bytes.Equal(got, c.data) {
			t.Errorf("%s: pull-local into an archive repository did not copy it as it is", c.what)
		}
		bu := filepath.Join(dir, "bu-"+strings.ReplaceAll(c.what, " ", "-"))
		testrepo.Init(t, bu, "bare-user")
		_, pullErr := testrepo.OstreeErr("pull-local", "--repo="+bu, repo, "main")
		switch c.bareUser {
		case "":
			if pullErr != nil {
				t.Errorf("%s: bare-user pull-local failed: %v", c.what, pullErr)
			}
		case "fsck":
			if pullErr != nil {
				t.Errorf("%s: bare-user pull-local failed: %v", c.what, pullErr)
			} else if _, err := testrepo.OstreeErr("fsck", "--repo="+bu); err == nil {
				t.Errorf("%s: bare-user repository passes fsck", c.what)
			} else {
				t.Logf("%s: bare-user pull stored a corrupt object: %v", c.what, err)
			}
		case "any error":
			if pullErr == nil {
				t.Errorf("%s: bare-user pull-local worked", c.what)
			} else {
				t.Logf("%s: bare-user pull-local fails: %v", c.what, pullErr)
			}
		default:
			if pullErr == nil || !strings.Contains(pullErr.Error(), c.bareUser) {
				t.Errorf("%s: bare-user pull-local: %v, want an error with %q", c.what, pullErr, c.bareUser)
			} else {
				t.Logf("%s: bare-user pull-local fails: %v", c.what, pullErr)
			}
		}
		_, err := ValidateFilez(bytes.NewReader(c.data), uint64(len(c.data)))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Rule != c.rule {
			t.Errorf("%s: ValidateFilez: %v, want rule %s", c.what, err, c.rule)
		}
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	testrepo.Fsck(t, repo)
}

func BenchmarkValidateFilez(b *testing.B) {
	f := getFixture(b)
	var total int64
	for _, o := range f.objects {
		total += int64(len(o.data))
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, o := range f.objects {
			if _, err := ValidateFilez(bytes.NewReader(o.data), uint64(len(o.data))); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(f.objects))*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// TestWriteFuzzCorpus rewrites testdata/fuzz/FuzzValidateFilez from small
// real objects when OSTREEFILE_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("OSTREEFILE_WRITE_CORPUS") != "1" {
		t.Skip("set OSTREEFILE_WRITE_CORPUS=1 to rewrite the fuzz corpus")
	}
	f := getFixture(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzValidateFilez")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pick := map[string]func(o *fixtureObject) bool{
		"empty":   func(o *fixtureObject) bool { return o.h.IsRegular() && o.size == 0 && len(o.h.Xattrs) == 0 },
		"symlink": func(o *fixtureObject) bool { return o.h.IsSymlink() && len(o.data) < 100 },
		"small-text": func(o *fixtureObject) bool {
			return o.h.IsRegular() && o.size > 20 && len(o.data) < 300 && o.payload()[0]&6 != 0
		},
		"small-stored": func(o *fixtureObject) bool {
			return o.h.IsRegular() && o.size > 20 && len(o.data) < 400 && o.payload()[0]&6 == 0
		},
		"xattrs":         func(o *fixtureObject) bool { return len(o.h.Xattrs) > 1 && len(o.data) < 400 },
		"setuid-owned":   func(o *fixtureObject) bool { return o.h.Mode&0o4000 != 0 && o.h.UID == 1234 && len(o.data) < 400 },
		"symlink-wide":   func(o *fixtureObject) bool { return o.h.IsSymlink() && len(o.header()) > 255 && len(o.data) < 300 },
		"xattr-boundary": func(o *fixtureObject) bool { return len(o.h.Xattrs) == 1 && len(o.h.Xattrs[0].Value) == 248 },
	}
	for label, ok := range pick {
		for _, o := range f.objects {
			if ok(o) {
				content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", o.data)
				if err := os.WriteFile(filepath.Join(dir, label), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
}
