package ostreefile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// The fixture: an archive repository made by the ostree CLI (the oracle)
// from a generated tree of thousands of files and a tree of special cases,
// shared by the tests of the package and removed by TestMain.
type fixture struct {
	root    string
	repo    string // archive-mode repository
	trees   []fixtureTree
	objects []*fixtureObject // every .filez in repo, sorted by name
	byName  map[string]*fixtureObject
	xattrs  bool // the filesystem took user xattrs
}

type fixtureTree struct {
	dir, branch string
	uid, gid    int // the --owner-uid/--owner-gid of the commit, or -1
}

type fixtureObject struct {
	name string // the file name without .filez: the object's name
	path string
	data []byte
	h    *FileHeader
	size uint64
}

// header and payload split the .filez bytes.
func (o *fixtureObject) header() []byte {
	return o.data[8 : 8+binary.BigEndian.Uint32(o.data)]
}
func (o *fixtureObject) payload() []byte { return o.data[8+len(o.header()):] }

var (
	fixtureOnce sync.Once
	theFixture  *fixture
	fixtureRoot string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// getFixture builds the fixture once; it skips (or, under CI, fails) the
// test when the ostree command is missing.
func getFixture(t testing.TB) *fixture {
	t.Helper()
	testrepo.RequireTools(t)
	fixtureOnce.Do(func() { theFixture = buildFixture(t) })
	if theFixture == nil {
		t.Fatal("building the test repository failed (see the first test that used it)")
	}
	return theFixture
}

func buildFixture(t testing.TB) *fixture {
	root, err := os.MkdirTemp("", "ostreefile-test-")
	if err != nil {
		t.Fatal(err)
	}
	fixtureRoot = root
	f := &fixture{root: root, repo: filepath.Join(root, "repo"), byName: map[string]*fixtureObject{}}
	gen := filepath.Join(root, "gen")
	testrepo.GenerateTree(t, gen, testrepo.TreeOptions{Files: 3600, Seed: 20240101, BigFile: 3 << 20})
	special := filepath.Join(root, "special")
	f.xattrs = buildSpecialTree(t, special)
	if !f.xattrs {
		t.Logf("this filesystem refuses user xattrs: the xattr cases are left out")
	}
	testrepo.Init(t, f.repo, "archive")
	f.trees = []fixtureTree{
		{gen, "gen", -1, -1},
		{special, "special", -1, -1},
		{special, "owned", 1234, 5678},
	}
	for _, tr := range f.trees {
		var extra []string
		if tr.uid >= 0 {
			extra = []string{fmt.Sprintf("--owner-uid=%d", tr.uid), fmt.Sprintf("--owner-gid=%d", tr.gid)}
		}
		testrepo.Commit(t, f.repo, tr.branch, tr.dir, tr.branch, extra...)
	}
	err = filepath.Walk(filepath.Join(f.repo, "objects"), func(p string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(p, ".filez") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := filepath.Base(filepath.Dir(p)) + strings.TrimSuffix(filepath.Base(p), ".filez")
		o := &fixtureObject{name: name, path: p, data: data}
		if o.h, o.size, err = ParseArchiveHeader(o.header()); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		f.objects = append(f.objects, o)
		f.byName[name] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(f.objects, func(i, j int) bool { return f.objects[i].name < f.objects[j].name })
	return f
}

// Symlink targets whose lengths put the (uuuusa(ayay)) and the
// (tuuuusa(ayay)) on either side of the 255-byte limit of 1-byte framing
// offsets.
var boundaryTargetLengths = []int{228, 229, 230, 231, 236, 237, 238, 239}

// buildSpecialTree writes the special cases and reports whether user
// xattrs could be set.
func buildSpecialTree(t testing.TB, dir string) bool {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	file := func(name string, mode uint32, data []byte) string {
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, data, 0o600))
		must(syscall.Chmod(p, mode))
		return p
	}
	link := func(name, target string) { must(os.Symlink(target, filepath.Join(dir, name))) }

	file("empty", 0o644, nil)
	file("empty-exec", 0o755, nil)
	file("empty-0600", 0o600, nil)
	file("empty-setuid", 0o4755, nil)
	script := []byte("#!/bin/sh\necho special\n")
	file("exec-0755", 0o755, script)
	file("exec-0700", 0o700, script)
	file("exec-0555", 0o555, script)
	file("setuid", 0o4755, []byte("setuid\n"))
	file("setgid", 0o2755, []byte("setgid\n"))
	file("sticky", 0o1644, []byte("sticky\n"))
	file("allbits", 0o7777, []byte("all mode bits\n"))
	file("nobits", 0o000, []byte("no mode bits\n"))
	file("one-byte", 0o644, []byte{0})
	file("zeros-3m", 0o644, make([]byte, 3<<20))
	text := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog.\n"), 1<<14)
	file("text-720k", 0o644, text)
	file("sub/inner", 0o640, []byte("inner\n"))
	link("link-long", strings.Repeat("abcdefgh/", 445)[:3999])
	link("link-unicode", "../ünïcødé/文件/🙂.txt")
	link("link-space", "with space/and\ttab")
	link("link-abs", "/usr/bin/env")
	link("link-dot", ".")
	link("link-short", "a")
	link("sub/link-up", "../exec-0755")
	for _, n := range boundaryTargetLengths {
		link(fmt.Sprintf("link-len-%d", n), strings.Repeat("t", n))
	}

	// Xattrs, if this filesystem takes them.
	probe := file("x-one", 0o644, []byte("hello\n"))
	if err := syscall.Setxattr(probe, "user.test", []byte("x"), 0); err != nil {
		os.Remove(probe)
		return false
	}
	setx := func(p string, kv ...string) {
		for i := 0; i < len(kv); i += 2 {
			must(syscall.Setxattr(p, kv[i], []byte(kv[i+1]), 0))
		}
	}
	setx(file("x-multi", 0o644, []byte("several xattrs\n")),
		"user.zeta", "last", "user.alpha", "first", "user.mid", "middle", "user.a", "prefix")
	setx(file("x-binary", 0o644, []byte("binary value\n")), "user.bin", "\x00\x01\xff\x00nul")
	setx(file("x-empty-value", 0o644, []byte("empty value\n")), "user.empty", "")
	setx(file("x-big", 0o644, []byte("big value\n")), "user.big", strings.Repeat("v", 3000))
	setx(file("x-setuid", 0o4755, []byte("setuid with xattr\n")), "user.test", "setuid")
	setx(file("x-empty-file", 0o644, nil), "user.test", "empty file")
	// Values that put an (ayay) element on either side of 255 bytes.
	for _, n := range []int{246, 247, 248, 249} {
		setx(file(fmt.Sprintf("x-val-%d", n), 0o644, []byte(fmt.Sprint(n))), "user.v", strings.Repeat("w", n))
	}
	return true
}

// lstatHeader is the header libostree makes for path, from lstat and the
// xattrs (sorted by name), with uid and gid replaced when they are >= 0.
func lstatHeader(t testing.TB, path string, uid, gid int) *FileHeader {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	h := &FileHeader{UID: st.Uid, GID: st.Gid, Mode: st.Mode}
	if uid >= 0 {
		h.UID, h.GID = uint32(uid), uint32(gid)
	}
	if h.IsSymlink() {
		target, err := os.Readlink(path)
		if err != nil {
			t.Fatal(err)
		}
		h.SymlinkTarget = target
	}
	h.Xattrs = lxattrs(t, path)
	return h
}

// lxattrs lists path's xattrs without following a symlink as libostree
// does (libglnx glnx_dfd_name_get_all_xattrs): names with their NUL,
// sorted by strcmp, and xattrs with an empty value left out.
func lxattrs(t testing.TB, path string) []Xattr {
	t.Helper()
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	n, _, e := syscall.Syscall(syscall.SYS_LLISTXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if e == syscall.ENOTSUP {
		return nil
	} else if e != 0 {
		t.Fatalf("llistxattr %s: %v", path, e)
	}
	var xs []Xattr
	for _, name := range bytes.SplitAfter(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		val := make([]byte, 64<<10)
		m, _, e := syscall.Syscall6(syscall.SYS_LGETXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&name[0])),
			uintptr(unsafe.Pointer(&val[0])), uintptr(len(val)), 0, 0)
		if e != 0 {
			t.Fatalf("lgetxattr %s %q: %v", path, name, e)
		}
		if m == 0 {
			continue // libglnx's read_xattr_name_array skips empty values
		}
		xs = append(xs, Xattr{Name: bytes.Clone(name), Value: val[:m]})
	}
	sort.Slice(xs, func(i, j int) bool { return bytes.Compare(xs[i].Name, xs[j].Name) < 0 })
	return xs
}

// lsChecksums maps the paths of the files and symlinks of branch to their
// object names, as `ostree ls -R -C` gives them.
func lsChecksums(t testing.TB, repo, branch string) map[string]string {
	t.Helper()
	out := testrepo.Ostree(t, "ls", "--repo="+repo, "-R", "-C", branch)
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[0][0] == 'd' {
			continue
		}
		m[fields[5]] = fields[4]
	}
	return m
}
