package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// objectBytes is the total size of a repository's object files.
func objectBytes(t *testing.T, repo string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(filepath.Join(repo, "objects"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPushCompressedFromBareUser: from a bare-user repository, file
// objects cross ssh deflated (as .filez), about as small as the archive
// repository the same commit was made in holds them; into an archive
// destination they are stored as sent, into a bare-user one inflated. With
// --no-compress they go as they are stored.
func TestPushCompressedFromBareUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 400)
	archiveBytes := objectBytes(t, e.src)
	bu := filepath.Join(e.dir, "bare-user source")
	testrepo.Init(t, bu, "bare-user")
	testrepo.Ostree(t, "--repo="+bu, "pull-local", e.src, "os/main")
	e.src = bu

	var compressed int64
	for _, mode := range []string{"archive", "bare-user"} {
		remote := e.remote(mode)
		r := e.push("--json", e.dest(remote), "os/main")
		wantCode(t, r, 0)
		res := parseJSON(t, r)
		compressed = res.BytesSent
		if ratio := float64(res.BytesSent) / float64(archiveBytes); ratio > 1.05 {
			t.Errorf("into %s: sent %d bytes, %.3f times the %d bytes of the archive repository", mode, res.BytesSent, ratio, archiveBytes)
		}
		sameRef(t, bu, remote, "os/main")
		testrepo.Fsck(t, remote)
	}

	remote := filepath.Join(e.dir, "uncompressed")
	testrepo.Init(t, remote, "archive")
	r := e.push("--json", "--no-compress", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if res := parseJSON(t, r); float64(res.BytesSent) < 1.1*float64(compressed) {
		t.Errorf("--no-compress sent %d bytes, not more than the %d sent compressed", res.BytesSent, compressed)
	}
	sameRef(t, bu, remote, "os/main")
	testrepo.Fsck(t, remote)
}
