package httprepo

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestServerPulledByOstree: `ostree pull` (libostree, the oracle) pulls
// what a Server serves of an archive and of a bare-user repository (whose
// file objects it deflates as they are asked for), under the names given,
// and fsck finds nothing wrong; nothing but the listed refs, the objects
// and a config of its own is served.
func TestServerPulledByOstree(t *testing.T) {
	testrepo.RequireTools(t)
	for _, mode := range []string{"archive", "bare-user"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			src, dst, tree := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "tree")
			testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 30, Seed: 9})
			testrepo.Init(t, src, mode)
			testrepo.Ostree(t, "remote", "add", "--repo="+src, "--no-gpg-verify", "secret", "https://user:password@example.org/")
			testrepo.Commit(t, src, "os/main", tree, "one")
			testrepo.ChangeTree(t, tree, 2, 20)
			head := testrepo.Commit(t, src, "os/main", tree, "two")
			testrepo.Commit(t, src, "other", tree, "not served")
			repo, err := store.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			srv, err := Serve(repo, store.Loader(repo.Lib()), []ServedRef{{Name: "os/main", Commit: object.MustParseChecksum(head)}})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()

			testrepo.Init(t, dst, "archive")
			testrepo.Ostree(t, "remote", "add", "--repo="+dst, "--no-gpg-verify", "push", srv.URL)
			testrepo.Ostree(t, "pull", "--repo="+dst, "--depth=-1", "push", "os/main")
			if got := testrepo.RevParse(t, dst, "push:os/main"); got != head {
				t.Fatalf("pulled %s, want %s", got, head)
			}
			testrepo.Fsck(t, dst)
			if out := testrepo.Ostree(t, "remote", "refs", "--repo="+dst, "push"); strings.TrimSpace(out) != "push:os/main" {
				t.Fatalf("the summary lists %q", out)
			}
			if objects, _ := srv.Served(); objects == 0 {
				t.Fatal("no object counted")
			}
			for _, p := range []string{"/refs/heads/other", "/refs/remotes/secret", "/objects/../config", "/remotes.d", "/tmp", "/state", "/objects/zz/" + strings.Repeat("0", 62) + ".commit"} {
				resp, err := http.Get(srv.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s: %d", p, resp.StatusCode)
				}
			}
			resp, err := http.Get(srv.URL + "/config")
			if err != nil {
				t.Fatal(err)
			}
			config, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(config), "password") || !strings.Contains(string(config), "mode=archive-z2") {
				t.Fatalf("config served: %q", config)
			}
			if resp, err := http.Post(srv.URL+"/summary", "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("POST: %v %v", resp, err)
			}
		})
	}
}
