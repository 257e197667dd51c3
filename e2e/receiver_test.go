package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/summary"
)

// config writes a receiver configuration file and returns the environment
// that makes the remote ostree-receive read only it.
func (e *env) config(text string) map[string]string {
	e.t.Helper()
	f, err := os.CreateTemp(e.dir, "receive-*.conf")
	if err != nil {
		e.t.Fatal(err)
	}
	p := f.Name()
	f.Close()
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return map[string]string{"OSTREE_RECEIVE_CONF": p}
}

func TestReceiverRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	root := filepath.Join(e.dir, "served")
	os.MkdirAll(root, 0o755)
	inside := filepath.Join(root, "repo")
	testrepo.Init(t, inside, "archive")
	outside := e.remote("archive")
	os.Symlink(outside, filepath.Join(root, "sneaky"))
	conf := e.config("root: " + root + "\n")

	// A path relative to root, and an absolute one under it, work.
	wantCode(t, e.pushEnv(conf, e.dest("repo"), "os/main"), 0)
	sameRef(t, e.src, inside, "os/main")
	wantCode(t, e.pushEnv(conf, e.dest(inside), "os/main:os/again"), 0)

	// Outside root, directly, through .. or through a symlink: refused
	// before anything is written, saying why.
	before := snap(t, outside)
	for _, d := range []string{outside, "../" + filepath.Base(e.dir), "sneaky", "repo/../../" + filepath.Base(outside)} {
		r := e.pushEnv(conf, e.dest(d), "os/main")
		wantCode(t, r, 1)
		if !strings.Contains(r.stderr, "not under the configured root") && !strings.Contains(r.stderr, "no such file") {
			t.Fatalf("push to %s: %s", d, r.stderr)
		}
	}
	unchanged(t, outside, before)
}

func TestReceiverRefPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	remote := e.remote("archive")
	conf := e.config("allow_refs: ['os/*']\ndeny_refs: ['os/internal/*']\ndeny_deletes: yes\ndeny_non_fast_forward: yes\nupdate: no\n")
	e.commit("os/internal/x", "internal")
	e.commit("other/y", "other")

	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)
	for _, ref := range []string{"os/internal/x", "other/y"} {
		r := e.pushEnv(conf, "--json", e.dest(remote), ref)
		wantCode(t, r, 1)
		res := parseJSON(t, r)
		if res.Refs[0].Reason != "rejected" || !strings.Contains(res.Refs[0].Message, "allow_refs") && !strings.Contains(res.Refs[0].Message, "denied") {
			t.Fatalf("%s: %+v", ref, res.Refs)
		}
		if testrepo.RevParse(t, remote, ref) != "" {
			t.Fatalf("%s landed", ref)
		}
	}
	// deny_deletes.
	r := e.pushEnv(conf, "--json", e.dest(remote), ":os/main")
	wantCode(t, r, 1)
	if res := parseJSON(t, r); !strings.Contains(res.Refs[0].Message, "deleting") {
		t.Fatalf("delete: %+v", res.Refs)
	}
	// deny_non_fast_forward holds against --force.
	os.WriteFile(filepath.Join(e.tree, "other"), []byte("x\n"), 0o644)
	e.commit("os/other", "unrelated", "--orphan")
	r = e.pushEnv(conf, "--force", "--json", e.dest(remote), "os/other:os/main")
	wantCode(t, r, 1)
	if res := parseJSON(t, r); res.Refs[0].Reason != "non-fast-forward" || !strings.Contains(res.Refs[0].Message, "denies") {
		t.Fatalf("forced non-fast-forward: %+v", res.Refs)
	}
	sameRef(t, e.src, remote, "os/main") // unchanged: still the first push
	testrepo.Fsck(t, remote)
}

func TestReceiverSummaryAndHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	remote := e.remote("archive")
	out := filepath.Join(e.dir, "hook.out")
	hook := filepath.Join(e.dir, "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\n{ echo \"repo=$OSTREE_RECEIVE_REPO\"; echo \"refs=$OSTREE_RECEIVE_REFS\"; echo \"$OSTREE_RECEIVE_UPDATES\"; } >"+out+"\necho hook says hi\n"), 0o755)

	// update: yes (the default) regenerates the summary.
	wantCode(t, e.pushEnv(e.config(""), e.dest(remote), "os/main"), 0)
	view := testrepo.Ostree(t, "summary", "--repo="+remote, "--view")
	if !strings.Contains(view, "os/main") {
		t.Fatalf("summary after push:\n%s", view)
	}

	// update_hook replaces the summary update, as in the 1.x receiver.
	os.WriteFile(filepath.Join(e.tree, "more"), []byte("more\n"), 0o644)
	c := e.commit("os/main", "second")
	r := e.pushEnv(e.config("update_hook: "+hook+"\n"), e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "remote: update_hook: hook says hi") {
		t.Fatalf("hook output not shown:\n%s", r.stderr)
	}
	got, _ := os.ReadFile(out)
	for _, want := range []string{"repo=" + remote, "refs=os/main", "os/main ", " " + c} {
		if !strings.Contains(string(got), want) {
			t.Fatalf("hook environment %q lacks %q", got, want)
		}
	}
	// A failing hook is reported; the refs have moved all the same.
	os.WriteFile(filepath.Join(e.tree, "more"), []byte("even more\n"), 0o644)
	e.commit("os/main", "third")
	r = e.pushEnv(e.config("update_hook: /bin/false\n"), e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "update_hook failed") {
		t.Fatalf("hook failure not reported:\n%s", r.stderr)
	}
	sameRef(t, e.src, remote, "os/main")

	// dry_run in the config: nothing changes, and the client is told.
	os.WriteFile(filepath.Join(e.tree, "more"), []byte("yet more\n"), 0o644)
	e.commit("os/main", "fourth")
	before := snap(t, remote)
	r = e.pushEnv(e.config("dry_run: yes\n"), e.dest(remote), "os/main")
	if !strings.Contains(r.stderr, "dry_run") || !strings.Contains(r.stderr, "(dry run: the server's; nothing moved)") {
		t.Fatalf("dry_run not reported:\n%s", r.stderr)
	}
	r = e.pushEnv(e.config("dry_run: yes\n"), "--json", e.dest(remote), "os/main")
	if res := parseJSON(t, r); !res.DryRun {
		t.Fatalf("--json of a push the server ran dry: dry_run false:\n%s", r.stdout)
	}
	unchanged(t, remote, before)
	testrepo.Fsck(t, remote)
}

// TestReceiverDerivesSummary: once a push has written the summary, the
// next derives it from that one and the refs that moved (it does not say
// it regenerated it), and it is what `ostree summary -u` writes; a ref
// moved behind the receiver's back makes the next push regenerate it.
func TestReceiverDerivesSummary(t *testing.T) {
	t.Parallel()
	for _, coll := range []string{"", "org.example.Os"} {
		e := newEnv(t, 30)
		remote := e.remote("archive")
		oracle := "ostree summary -u"
		if coll != "" {
			// ostree summary -u would commit ostree-metadata again:
			// libostree's own regeneration is the oracle.
			testrepo.Ostree(t, "config", "--repo="+remote, "set", "core.collection-id", coll)
			oracle = "ostree_repo_regenerate_summary"
		}
		e.commit("os/b", "b")
		push := func(what string, wantRegenerated bool, refs ...string) {
			t.Helper()
			r := e.pushEnv(e.config(""), append([]string{e.dest(remote)}, refs...)...)
			wantCode(t, r, 0)
			if got := strings.Contains(r.stderr, "summary regenerated from every ref"); got != wantRegenerated {
				t.Fatalf("%s %s: regenerated %v, want %v:\n%s", coll, what, got, wantRegenerated, r.stderr)
			}
			copy := e.copyRepo(remote, "summary check "+coll+what)
			if coll == "" {
				testrepo.Ostree(t, "summary", "-u", "--repo="+copy)
			} else {
				lib, err := libostree.Open(copy)
				if err != nil {
					t.Fatal(err)
				}
				err = lib.RegenerateSummary()
				lib.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(filepath.Join(remote, "summary"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(copy, "summary"))
			if err != nil {
				t.Fatal(err)
			}
			if eq, err := summary.Equal(got, want); err != nil || !eq {
				t.Fatalf("%s %s: the summary is not what %s writes (%v):\n%s", coll, what, oracle, err, testrepo.Ostree(t, "summary", "--view", "--repo="+remote))
			}
			if coll != "" && !strings.Contains(testrepo.Ostree(t, "summary", "--view", "--repo="+remote), "("+coll+", ostree-metadata)") {
				t.Fatalf("%s %s: the summary does not list ostree-metadata", coll, what)
			}
		}
		push("first push", true, "os/main")
		os.WriteFile(filepath.Join(e.tree, "more"), []byte("more\n"), 0o644)
		e.commit("os/main", "second")
		push("second push", false, "os/main", "os/b")
		testrepo.Ostree(t, "refs", "--repo="+remote, "--create=behind/its/back", testrepo.RevParse(t, remote, "os/b"))
		os.WriteFile(filepath.Join(e.tree, "more"), []byte("even more\n"), 0o644)
		e.commit("os/main", "third")
		push("after a ref made by hand", true, "os/main")
		if view := testrepo.Ostree(t, "summary", "--view", "--repo="+remote); !strings.Contains(view, "behind/its/back") {
			t.Fatalf("the regenerated summary lacks the ref made by hand:\n%s", view)
		}
		if coll != "" {
			// One ostree-metadata commit per push, each on the last.
			log := testrepo.Ostree(t, "log", "--repo="+remote, "ostree-metadata")
			if n := strings.Count(log, "commit "); n != 3 {
				t.Fatalf("ostree-metadata has %d commits after 3 pushes:\n%s", n, log)
			}
		}
		testrepo.Fsck(t, remote)
	}
}

// TestReceiverForce: a server with force: yes takes a non-fast-forward
// update from a client that did not ask to force it (the 1.x receiver's
// behaviour), and the client says it was forced; without it, the update
// is refused.
func TestReceiverForce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20)
	remote := e.remote("archive")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)
	os.WriteFile(filepath.Join(e.tree, "remote-only"), []byte("x\n"), 0o644)
	testrepo.Commit(t, remote, "os/main", e.tree, "work done on the server")
	os.Remove(filepath.Join(e.tree, "remote-only"))
	os.WriteFile(filepath.Join(e.tree, "local-only"), []byte("y\n"), 0o644)
	e.commit("os/main", "local work")
	before := snap(t, remote)
	r := e.push(e.dest(remote), "os/main")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "non-fast-forward") {
		t.Fatalf("without force: yes:\n%s", r.stderr)
	}
	unchanged(t, remote, before)
	r = e.pushEnv(e.config("force: yes\n"), e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "(forced update)") {
		t.Fatalf("with force: yes, the report does not say forced:\n%s", r.stderr)
	}
	sameRef(t, e.src, remote, "os/main")
	testrepo.Fsck(t, remote)
}

func TestReceiverConfigErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20)
	remote := e.remote("archive")
	before := snap(t, remote)
	for _, text := range []string{"update: sometimes\n", "root: [x]\n", "- not a mapping\n", "sign_verify: yes\nsign_trustedkeyfile: /nonexistent\n"} {
		r := e.pushEnv(e.config(text), e.dest(remote), "os/main")
		wantCode(t, r, 1)
		if !strings.Contains(r.stderr, "remote: ") {
			t.Fatalf("config %q: the client was not told why:\n%s", text, r.stderr)
		}
	}
	unchanged(t, remote, before)
	// Unknown keys only warn.
	wantCode(t, e.pushEnv(e.config("colour: blue\n"), e.dest(remote), "os/main"), 0)
}
