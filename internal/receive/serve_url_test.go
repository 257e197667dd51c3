package receive

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

func TestCheckPullURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:4000", "http://127.0.0.1:4000/", "http://127.1.2.3:1/repo", "http://[::1]:80", "http://localhost:9"} {
		if err := CheckPullURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://10.0.0.1:80", "http://example.org/", "https://127.0.0.1:1", "file:///srv/repo",
		"http://u@127.0.0.1:1", "http://127.0.0.1:1/?x=1", "127.0.0.1:80", "", "http://",
		"http://127.0.0.1.example.org/", "http://0.0.0.0:1", "http://[::ffff:10.0.0.1]:1",
	} {
		if err := CheckPullURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestServeURL pulls from an archive repository served over HTTP, as a 1.x
// client serves one, into another: every ref but the generated ones, with
// their checksums; a ref the client lacks is refused before anything runs.
func TestServeURL(t *testing.T) {
	testrepo.RequireTools(t)
	noUserKeys(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "receive.conf")
	if err := os.WriteFile(conf, []byte("update: ostree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, dst, tree := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 10, Seed: 5})
	testrepo.Init(t, src, "archive")
	testrepo.Init(t, dst, "archive")
	for _, ref := range []string{"os/main", "app/x", "appstream/x86_64", "appstream2/x86_64", "ostree-metadata"} {
		testrepo.Commit(t, src, ref, tree, ref)
	}
	testrepo.Ostree(t, "summary", "--repo="+src, "-u")
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	var stderr bytes.Buffer
	opts := Options{ConfigFile: conf, Version: "test"}
	t.Setenv("OSTREE_RECEIVE_LOG_STDERR", "1")
	if err := ServeURL(opts, dst, url, []string{"no/such"}, &bytes.Buffer{}, &stderr); err == nil || !strings.Contains(err.Error(), "not in the client's repository") {
		t.Fatalf("a ref the client lacks: %v", err)
	}
	if err := ServeURL(opts, dst, url, nil, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("ServeURL: %v\n%s", err, stderr.String())
	}
	got := strings.Fields(testrepo.Ostree(t, "refs", "--repo="+dst))
	slices.Sort(got)
	if strings.Join(got, " ") != "app/x os/main" {
		t.Fatalf("refs pulled: %q, want app/x and os/main only\n%s", got, stderr.String())
	}
	for _, ref := range got {
		if a, b := testrepo.RevParse(t, src, ref), testrepo.RevParse(t, dst, ref); a != b {
			t.Errorf("%s: %s, want %s (the checksum kept)", ref, b, a)
		}
	}
	testrepo.Fsck(t, dst)
	if !strings.Contains(stderr.String(), "[new ref]") {
		t.Errorf("no report:\n%s", stderr.String())
	}
	// A repository that cannot be opened: the receiver's refusal, said
	// once, and no hang between the two halves.
	if err := ServeURL(opts, filepath.Join(dir, "no such repo"), url, nil, &bytes.Buffer{}, &stderr); err == nil || !strings.Contains(err.Error(), "no such repo") {
		t.Fatalf("a missing repository: %v", err)
	}
	if err := ServeURL(opts, dst, "http://10.0.0.1:1", nil, &bytes.Buffer{}, &stderr); err == nil {
		t.Fatal("a URL off the loopback was pulled from")
	}
}

// TestCheckOwnTunnel: a port this process (or an ancestor) listens on is
// the client's tunnel; one another process listens on is not, nor one
// nothing listens on.
func TestCheckOwnTunnel(t *testing.T) {
	own := httptest.NewServer(http.NotFoundHandler())
	defer own.Close()
	if err := checkOwnTunnel(urlPort(own.URL)); err != nil {
		t.Fatalf("this process's listener: %v", err)
	}
	// A listener of another process: a child that is not an ancestor.
	other := exec.Command("python3", "-c", "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)")
	out, err := other.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err != nil {
		t.Skipf("python3: %v", err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	var port int
	if _, err := fmt.Fscan(out, &port); err != nil {
		t.Fatal(err)
	}
	if err := checkOwnTunnel(port); err == nil || !strings.Contains(err.Error(), "not the client's tunnel") {
		t.Fatalf("another process's listener: %v", err)
	}
	own.Close()
	if err := checkOwnTunnel(urlPort(own.URL)); err == nil || !strings.Contains(err.Error(), "nothing listens") {
		t.Fatalf("a closed port: %v", err)
	}
}
