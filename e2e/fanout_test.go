package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// fanOutJSON is ostree-push --to ... --json.
type fanOutJSON struct {
	Destinations []struct {
		Destination string `json:"destination"`
		OK          bool   `json:"ok"`
		Error       string `json:"error"`
		LeftBehind  bool   `json:"left_behind"`
		jsonResult
	} `json:"destinations"`
	OK          bool  `json:"ok"`
	ObjectsRead int   `json:"objects_read"`
	BytesRead   int64 `json:"bytes_read"`
}

// leftBehind reports whether a mirror fell behind the shared reader (then
// it read the rest of its objects itself: more reads than objects).
func (f fanOutJSON) leftBehind() bool {
	for _, d := range f.Destinations {
		if d.LeftBehind {
			return true
		}
	}
	return false
}

func parseFanOut(t *testing.T, r run) fanOutJSON {
	t.Helper()
	var res fanOutJSON
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	return res
}

// TestFanOut pushes one commit to three repositories behind the test sshd
// in one run: an empty archive, a bare-user one that has the first commit,
// and one whose receiver fails in the middle of the push (a push size
// limit in its configuration). The first two land, as ostree sees them;
// the third is left as it was and the exit status says that one failed.
func TestFanOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 300)
	mirror := func(name, mode string) string {
		p := filepath.Join(e.dir, name)
		testrepo.Init(t, p, mode)
		return p
	}
	empty := mirror("empty", "archive")
	behind := mirror("behind", "bare-user")
	failing := mirror("failing", "archive")
	wantCode(t, e.push(e.dest(behind), "os/main"), 0)
	testrepo.ChangeTree(t, e.tree, 11, 5)
	e.commit("os/main", "second")
	conf := e.config("repos:\n  " + failing + ":\n    max_push_size: 20K\n")
	before := snap(t, failing)

	r := e.pushEnv(conf, "--json", "--to", e.dest(empty), "--to", e.dest(behind), "--to", e.dest(failing), "os/main")
	wantCode(t, r, 1)
	res := parseFanOut(t, r)
	if len(res.Destinations) != 3 || res.OK {
		t.Fatalf("%+v", res)
	}
	for i, repo := range []string{empty, behind} {
		d := res.Destinations[i]
		if !d.OK || d.Error != "" || len(d.Refs) != 1 || d.Refs[0].Status == "rejected" {
			t.Fatalf("%s: %+v", repo, d)
		}
		sameRef(t, e.src, repo, "os/main")
		testrepo.Fsck(t, repo)
	}
	if got, want := res.Destinations[0].ObjectsSent, countReachable(t, e.src, "os/main")+countReachable(t, e.src, "os/main^"); got > want || got < countReachable(t, e.src, "os/main") {
		t.Errorf("empty mirror: %d objects sent, want the history's (at most %d)", got, want)
	}
	if d := res.Destinations[1]; d.ObjectsSent >= res.Destinations[0].ObjectsSent/2 {
		t.Errorf("mirror with the first commit was sent %d objects (the empty one %d): not incremental", d.ObjectsSent, res.Destinations[0].ObjectsSent)
	}
	if d := res.Destinations[2]; d.OK || !strings.Contains(d.Error, "limit") {
		t.Errorf("failing mirror: %+v", d)
	}
	unchanged(t, failing, before)
	// Read once: the empty archive mirror takes everything the failing one
	// does, as .filez, and the bare-user mirror some contents as streams:
	// no object was read once per mirror.
	sent := res.Destinations[0].ObjectsSent + res.Destinations[1].ObjectsSent
	if res.ObjectsRead < res.Destinations[0].ObjectsSent || res.ObjectsRead > sent && !res.leftBehind() {
		t.Errorf("objects read %d: want between %d and %d", res.ObjectsRead, res.Destinations[0].ObjectsSent, sent)
	}

	// The git-style report names each destination, and the last line the
	// one that failed.
	r = e.pushEnv(conf, "--to", e.dest(empty), "--to", e.dest(failing), "os/main")
	wantCode(t, r, 1)
	for _, want := range []string{"To " + e.dest(empty) + "\n", "[up to date]", "ostree-push: " + e.dest(failing) + ": ", "1 of 2 destinations not updated: " + e.dest(failing)} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stderr)
		}
	}
	unchanged(t, failing, before)

	// Without the limit, the failed mirror catches up; the others are
	// up to date and are sent nothing.
	r = e.push("--json", "--to", e.dest(empty), "--to", e.dest(behind), "--to", e.dest(failing), "os/main")
	wantCode(t, r, 0)
	res = parseFanOut(t, r)
	if !res.OK || res.Destinations[0].ObjectsSent != 0 || res.Destinations[1].ObjectsSent != 0 || res.Destinations[2].ObjectsSent == 0 {
		t.Errorf("%+v", res)
	}
	if res.ObjectsRead != res.Destinations[2].ObjectsSent && !res.leftBehind() {
		t.Errorf("objects read %d, sent to the one mirror that lacked them %d", res.ObjectsRead, res.Destinations[2].ObjectsSent)
	}
	sameRef(t, e.src, failing, "os/main")
	testrepo.Fsck(t, failing)
}

// TestFanOutUnreachable: a destination whose ssh cannot connect fails
// alone; the reachable one lands.
func TestFanOutUnreachable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	good := e.remote("archive")
	r := e.push("--to", "ssh://127.0.0.1:1/srv/nowhere", "--to", e.dest(good), "os/main")
	wantCode(t, r, 1)
	sameRef(t, e.src, good, "os/main")
	if !strings.Contains(r.stderr, "ostree-push: ssh://127.0.0.1:1/srv/nowhere: ") || !strings.Contains(r.stderr, "cannot reach 127.0.0.1: ssh exited with status 255") {
		t.Errorf("report:\n%s", r.stderr)
	}
	// --to twice to the same place, and --to with --stdio, are usage errors.
	wantCode(t, e.push("--to", e.dest(good), "--to", e.dest(good), "os/main"), 2)
	wantCode(t, e.push("--stdio", "--to", e.dest(good), "os/main"), 2)
}
