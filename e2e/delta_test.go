package e2e

// Static deltas on receive: with static_deltas (and _from_scratch) the
// receiver generates deltas after refs move and puts them in the summary,
// and an `ostree pull` over HTTP from that repository then fetches the
// delta rather than loose objects.

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// serveHTTP serves dir on 127.0.0.1 until the test ends and returns its URL.
func serveHTTP(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// pullStats returns what `ostree pull` said of the delta parts and loose
// objects it fetched, e.g. "1 delta parts, 3 loose fetched", or "0" delta
// parts when it said "N metadata, M content objects fetched" (no delta).
func pullStats(t *testing.T, out string) (deltaParts, loose string) {
	t.Helper()
	m := regexp.MustCompile(`(\d+) delta parts?, (\d+) loose fetched`).FindStringSubmatch(out)
	if m != nil {
		return m[1], m[2]
	}
	m = regexp.MustCompile(`(\d+) metadata, (\d+) content objects fetched`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("cannot read ostree pull's statistics in %q", out)
	}
	return "0", m[1] + "+" + m[2]
}

func TestStaticDeltasOnReceive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 80)
	remote := e.remote("archive")
	conf := e.config("static_deltas: yes\nstatic_deltas_from_scratch: yes\n")
	first := testrepo.RevParse(t, e.src, "os/main")

	r := e.pushEnv(conf, e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "static delta (scratch)-"+first[:10]+" generated") {
		t.Errorf("first push did not report the delta from scratch:\n%s", r.stderr)
	}

	// A client pulls the first commit over HTTP: the delta from scratch.
	url := serveHTTP(t, remote)
	client := filepath.Join(e.dir, "client")
	testrepo.Init(t, client, "bare-user")
	testrepo.Ostree(t, "remote", "add", "--repo="+client, "--no-gpg-verify", "origin", url)
	out := testrepo.Ostree(t, "pull", "--repo="+client, "origin", "os/main")
	// (ostree names delta parts in its statistics only when it used a
	// delta; objects too big for one, and the commit, come loose.)
	if parts, _ := pullStats(t, out); parts == "0" {
		t.Errorf("first pull used no delta: %q", out)
	}

	// An update: one file changes.
	os.WriteFile(filepath.Join(e.tree, "changed-for-delta"), []byte("new content\n"), 0o644)
	second := e.commit("os/main", "second")
	r = e.pushEnv(conf, e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "static delta "+first[:10]+"-"+second[:10]+" generated") {
		t.Errorf("update did not report the delta from the previous commit:\n%s", r.stderr)
	}
	list := testrepo.Ostree(t, "static-delta", "list", "--repo="+remote)
	for _, want := range []string{first + "-" + second, second} {
		if !strings.Contains(list, want) {
			t.Errorf("ostree static-delta list lacks %s:\n%s", want, list)
		}
	}
	testrepo.Fsck(t, remote)

	out = testrepo.Ostree(t, "pull", "--repo="+client, "origin", "os/main")
	if parts, _ := pullStats(t, out); parts == "0" {
		t.Errorf("update pull used no delta (want %s-%s): %q", first[:10], second[:10], out)
	}
	sameRef(t, e.src, client, "os/main")
	testrepo.Fsck(t, client)

	// The oracle tells the two apart: without deltas, loose objects only.
	plain := filepath.Join(e.dir, "plain")
	testrepo.Init(t, plain, "bare-user")
	testrepo.Ostree(t, "remote", "add", "--repo="+plain, "--no-gpg-verify", "origin", url)
	out = testrepo.Ostree(t, "pull", "--repo="+plain, "--disable-static-deltas", "origin", "os/main")
	if parts, _ := pullStats(t, out); parts != "0" {
		t.Errorf("a pull with --disable-static-deltas reports delta parts: %q", out)
	}
}

// TestStaticDeltasResigned: a commit signed after it was published gets
// its static deltas regenerated, since libostree copies the commit's
// detached metadata into each delta's superblock and a client pulling
// through the delta verifies what it finds there: a client that trusts
// only the late signer's key pulls through the delta.
func TestStaticDeltasResigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30)
	remote := e.remote("archive")
	homeA, idA, _ := gpgKey(t, e.dir, "builder")
	homeB, idB, keyringB := gpgKey(t, e.dir, "releaser")
	conf := e.config("static_deltas_from_scratch: yes\n")
	e.commit("os/main", "signed by the builder", "--gpg-sign="+idA, "--gpg-homedir="+homeA)
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)

	testrepo.Ostree(t, "gpg-sign", "--repo="+e.src, "--gpg-homedir="+homeB, "os/main", idB)
	r := e.pushEnv(conf, e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "signatures updated") || !strings.Contains(r.stderr, "static delta (scratch)-") {
		t.Fatalf("the push of the release signature did not regenerate the delta:\n%s", r.stderr)
	}

	client := filepath.Join(e.dir, "client")
	testrepo.Init(t, client, "bare-user")
	testrepo.Ostree(t, "remote", "add", "--repo="+client, "--gpg-import="+keyringB, "--set=gpg-verify=true", "origin", serveHTTP(t, remote))
	out, err := testrepo.OstreeErr("pull", "--repo="+client, "--require-static-deltas", "origin", "os/main")
	if err != nil {
		t.Fatalf("a pull through the delta, trusting the late signer only: %v\n%s", err, out)
	}
	if parts, _ := pullStats(t, out); parts == "0" {
		t.Errorf("the pull did not go through the delta: %s", out)
	}
}
