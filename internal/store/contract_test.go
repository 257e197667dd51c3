package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/storetest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestContract runs the store contract suite (internal/storetest) on
// libostree repositories made by the ostree command, in archive mode and
// in bare-user mode (whose file objects are written another way).
func TestContract(t *testing.T) {
	testrepo.RequireTools(t)
	for _, mode := range []string{"archive", "bare-user"} {
		t.Run(mode, func(t *testing.T) {
			storetest.Run(t, contractHarness(mode))
		})
	}
}

func contractHarness(mode string) storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T, opts storetest.Options) storetest.Repo {
			t.Helper()
			path := filepath.Join(t.TempDir(), "repo")
			var extra []string
			if opts.CollectionID != "" {
				extra = append(extra, "--collection-id="+opts.CollectionID)
			}
			testrepo.Init(t, path, mode, extra...)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			r.LockTimeout = opts.LockTimeout
			return r
		},
		Commit: func(t *testing.T, r storetest.Repo, parent object.Checksum, files map[string][]byte) object.Checksum {
			t.Helper()
			tree := t.TempDir()
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(tree, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"commit", "--repo=" + r.(*Repo).Path(), "--orphan", "--tree=dir=" + tree,
				"--subject=contract", "--timestamp=2024-01-01T00:00:00Z", "--owner-uid=0", "--owner-gid=0"}
			if !parent.IsZero() {
				args = append(args, "--parent="+parent.String())
			}
			return object.MustParseChecksum(strings.TrimSpace(testrepo.Ostree(t, args...)))
		},
		MarkPartial: func(t *testing.T, r storetest.Repo, c object.Checksum) {
			t.Helper()
			if err := r.(*Repo).Lib().MarkCommitPartial(c, true); err != nil {
				t.Fatal(err)
			}
		},
	}
}
