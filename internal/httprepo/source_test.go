package httprepo

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// served is an archive repository made by the ostree command with two
// commits on os/main and one on app/x, served over HTTP as ostree-push 1.x
// serves one (its files as they are). tamper, when set, may answer a
// request instead.
type served struct {
	dir    string
	srv    *httptest.Server
	tamper func(w http.ResponseWriter, r *http.Request) bool
}

func serve(t *testing.T, withSummary bool) *served {
	t.Helper()
	testrepo.RequireTools(t)
	s := &served{dir: filepath.Join(t.TempDir(), "repo")}
	tree := filepath.Join(t.TempDir(), "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 20, Seed: 3})
	testrepo.Init(t, s.dir, "archive")
	testrepo.Commit(t, s.dir, "os/main", tree, "one")
	testrepo.ChangeTree(t, tree, 4, 30)
	testrepo.Commit(t, s.dir, "os/main", tree, "two")
	testrepo.Commit(t, s.dir, "app/x", tree, "app")
	if withSummary {
		testrepo.Ostree(t, "summary", "--repo="+s.dir, "-u")
	}
	files := http.FileServer(http.Dir(s.dir))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tamper != nil && s.tamper(w, r) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *served) open(t *testing.T, opts Options) *Source {
	t.Helper()
	src, err := Open(s.srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestSourceReadsRepository: what the Source reads is what libostree reads
// of the same repository (refs, parents, the walk, the objects).
func TestSourceReadsRepository(t *testing.T) {
	s := serve(t, true)
	src := s.open(t, Options{})
	refs, err := src.Refs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Ref.Name+" "+r.Commit.String())
	}
	want := []string{
		"app/x " + testrepo.RevParse(t, s.dir, "app/x"),
		"os/main " + testrepo.RevParse(t, s.dir, "os/main"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Refs = %q, want %q", got, want)
	}
	head := object.MustParseChecksum(testrepo.RevParse(t, s.dir, "os/main"))
	info, ok, err := src.Commit(head)
	if err != nil || !ok || info.Parent.String() != testrepo.RevParse(t, s.dir, "os/main^") {
		t.Fatalf("Commit(os/main) = %+v, %v, %v; want the parent os/main^", info, ok, err)
	}
	local, err := store.Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	for _, c := range []object.Checksum{head, info.Parent} {
		a, err := src.Reachable([]object.Checksum{c})
		if err != nil {
			t.Fatal(err)
		}
		b, err := local.Reachable([]object.Checksum{c})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(sorted(a)) != fmt.Sprint(sorted(b)) {
			t.Fatalf("Reachable(%s) over HTTP: %d objects, libostree: %d", c, len(a), len(b))
		}
		for _, n := range a {
			if n.Type == object.File {
				rc, size, err := src.OpenFilez(n.Checksum)
				if err != nil {
					t.Fatal(err)
				}
				rc.Close()
				if fi, err := os.Stat(filepath.Join(s.dir, objectPath(n))); err != nil || uint64(fi.Size()) != size {
					t.Fatalf("%s: size %d, on disk %v", n, size, err)
				}
				continue
			}
			data, err := src.ReadMetadata(n)
			if err != nil {
				t.Fatal(err)
			}
			want, err := local.ReadMetadata(n)
			if err != nil || string(data) != string(want) {
				t.Fatalf("%s differs from libostree's read (%v)", n, err)
			}
		}
	}
}

func sorted(names []object.Name) []string {
	var out []string
	for _, n := range names {
		out = append(out, n.String())
	}
	slices.Sort(out)
	return out
}

// TestSourceWithoutSummary: refs are read from their files, and only
// names that are paths under refs/heads are asked for.
func TestSourceWithoutSummary(t *testing.T) {
	s := serve(t, false)
	var asked []string
	s.tamper = func(w http.ResponseWriter, r *http.Request) bool {
		asked = append(asked, r.URL.Path)
		return false
	}
	src := s.open(t, Options{})
	if _, err := src.Refs(); err == nil || !strings.Contains(err.Error(), "name the refs") {
		t.Fatalf("Refs without a summary: %v", err)
	}
	c, ok, err := src.LookupRef("os/main")
	if err != nil || !ok || c.String() != testrepo.RevParse(t, s.dir, "os/main") {
		t.Fatalf("LookupRef(os/main) = %v, %v, %v", c, ok, err)
	}
	asked = nil
	for _, name := range []string{"../config", "os/../../config", "a//b", "./x", "a b", "a%2fb", "a?b", ""} {
		if _, ok, err := src.LookupRef(name); ok || err != nil {
			t.Errorf("LookupRef(%q) = %v, %v", name, ok, err)
		}
	}
	if len(asked) != 0 {
		t.Fatalf("asked for %q", asked)
	}
	if _, ok, err := src.LookupRef("no/such"); ok || err != nil {
		t.Fatalf("a missing ref: %v, %v", ok, err)
	}
}

// TestSourceRefuses: what a hostile or broken client's server can do is
// refused with a clear error, and the Source holds no more than its bounds.
func TestSourceRefuses(t *testing.T) {
	s := serve(t, true)
	head := object.MustParseChecksum(testrepo.RevParse(t, s.dir, "os/main"))
	commitPath := "/" + objectPath(object.Name{Checksum: head, Type: object.Commit})
	for _, tt := range []struct {
		name   string
		tamper func(w http.ResponseWriter, r *http.Request) bool
		opts   Options
		want   string
	}{
		{"changed commit", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != commitPath {
				return false
			}
			data, _ := os.ReadFile(filepath.Join(s.dir, r.URL.Path))
			data[len(data)-1] ^= 1
			w.Write(data)
			return true
		}, Options{}, "does not match"},
		{"changed dirtree", func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, ".dirtree") {
				return false
			}
			data, _ := os.ReadFile(filepath.Join(s.dir, r.URL.Path))
			data[0] ^= 1
			w.Write(data)
			return true
		}, Options{}, "does not match"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, ".dirtree") {
				return false
			}
			http.Redirect(w, r, "http://192.0.2.1/x", http.StatusFound)
			return true
		}, Options{}, "redirect"},
		{"huge commit", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != commitPath {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(MaxMetadataObjectSize+1))
			w.Write(make([]byte, 1024))
			return true
		}, Options{}, "over the limit"},
		{"huge commit, no length", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != commitPath {
				return false
			}
			chunk := make([]byte, 1<<20)
			for i := 0; i <= MaxMetadataObjectSize>>20; i++ {
				w.Write(chunk)
				w.(http.Flusher).Flush()
			}
			return true
		}, Options{}, "over the limit"},
		{"metadata budget", nil, Options{MaxMetadataBytes: 200}, "metadata exceeds 200 bytes"},
		{"server error", func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, ".dirtree") {
				return false
			}
			http.Error(w, "\x1b[31mboom", http.StatusInternalServerError)
			return true
		}, Options{}, "HTTP status 500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.tamper = nil
			src := s.open(t, tt.opts)
			s.tamper = tt.tamper
			defer func() { s.tamper = nil }()
			_, err := src.Reachable([]object.Checksum{head})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Reachable: %v; want an error with %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\x1b") {
				t.Fatalf("the server's bytes reached the error: %q", err)
			}
		})
	}
}

// TestSourceOpenRefuses: a URL that serves no archive repository.
func TestSourceOpenRefuses(t *testing.T) {
	testrepo.RequireTools(t)
	dir := t.TempDir()
	testrepo.Init(t, filepath.Join(dir, "bare"), "bare-user")
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	for _, tt := range []struct{ url, want string }{
		{srv.URL + "/bare", `mode "bare-user"`},
		{srv.URL + "/none", "no config"},
		{"file:///etc", "http://HOST"},
		{"https://example.org/repo", "http://HOST"},
		{"http://u:p@127.0.0.1:1/", "http://HOST"},
	} {
		if _, err := Open(tt.url, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s): %v; want %q", tt.url, err, tt.want)
		}
	}
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/config":
			fmt.Fprint(w, "[core]\nrepo_version=1\nmode=archive-z2\n")
		case strings.HasSuffix(r.URL.Path, ".filez"):
			w.Write([]byte("x"))
			w.(http.Flusher).Flush() // no Content-Length
		default:
			http.NotFound(w, r)
		}
	}))
	defer chunked.Close()
	src, err := Open(chunked.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.OpenFilez(object.Checksum{1}); err == nil || !strings.Contains(err.Error(), "Content-Length") {
		t.Fatalf("a .filez without Content-Length: %v", err)
	}
}
