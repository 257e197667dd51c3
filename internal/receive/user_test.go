package receive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// TestPolicyUser: an identity's rules apply on top of the repository's: a
// ref must pass both allow lists, either deny list denies, the stricter
// yes/no and the smaller limit win, and a refusal names the rule.
func TestPolicyUser(t *testing.T) {
	alice := &receiveconfig.User{Entry: "alice", AllowRefs: []string{"os/*", "(org.example.Os, os/*)"}, DenyRefs: []string{"os/frozen"},
		DenyDeletes: true, DenyNonFastForward: true, MaxPushSize: 1 << 20, MaxObjectSize: 1 << 10}
	repo := receiveconfig.Repo{AllowRefs: []string{"os/*", "app/*"}, DenyRefs: []string{"*/secret"}, MaxPushSize: 2 << 20, MaxObjectSize: 64 << 30}
	s := &server{settings: repo, user: alice, log: pushlog.New(io.Discard, pushlog.Error, true)}
	p, err := s.policy()
	if err != nil {
		t.Fatal(err)
	}
	ref := func(coll, name string, del bool) wire.RefUpdate {
		u := wire.RefUpdate{Ref: wire.RefName{CollectionID: coll, Name: name}, Old: object.Checksum{1}, New: object.Checksum{2}}
		if del {
			u.New = object.Zero
		}
		return u
	}
	for _, tc := range []struct {
		u    wire.RefUpdate
		want string
	}{
		{ref("", "os/stable", false), ""},
		{ref("org.example.Os", "os/stable", false), "(org.example.Os, os/stable) is not in the server's allow_refs"},
		{ref("", "app/org.example.Foo", false), "ref app/org.example.Foo is refused by users.alice.allow_refs (os/*, (org.example.Os, os/*))"},
		{ref("", "main", false), "not in the server's allow_refs"},
		{ref("", "os/secret", false), `denied by the server (deny_refs "*/secret")`},
		{ref("", "os/frozen", false), `ref os/frozen is refused by users.alice.deny_refs ("os/frozen")`},
		{ref("", "os/stable", true), "deleting refs is refused by users.alice.deny_deletes"},
	} {
		err := p.CheckRef(tc.u)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s (delete %v): %v, want %q", tc.u.Ref, tc.u.New.IsZero(), err, tc.want)
		}
	}
	if !p.DenyNonFastForward || p.DenyNonFastForwardRule != "users.alice.deny_non_fast_forward" {
		t.Errorf("deny_non_fast_forward: %v, %q", p.DenyNonFastForward, p.DenyNonFastForwardRule)
	}
	if p.MaxPushSize != 1<<20 || p.MaxPushSizeRule != "users.alice.max_push_size" {
		t.Errorf("max_push_size: %d, %q", p.MaxPushSize, p.MaxPushSizeRule)
	}
	if n, rule := s.maxObjectSize(); n != 1<<10 || rule != "users.alice.max_object_size" {
		t.Errorf("max_object_size: %d, %q", n, rule)
	}

	// The repository's stricter settings win, and keep their messages.
	repo = receiveconfig.Repo{DenyDeletes: true, DenyNonFastForward: true, MaxPushSize: 1 << 10, MaxObjectSize: 1 << 5}
	s = &server{settings: repo, user: alice, log: pushlog.New(io.Discard, pushlog.Error, true)}
	if p, err = s.policy(); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckRef(ref("", "os/stable", true)); err == nil || !strings.Contains(err.Error(), "the server denies deleting refs") {
		t.Errorf("repository's deny_deletes: %v", err)
	}
	if p.DenyNonFastForwardRule != "" || p.MaxPushSize != 1<<10 || p.MaxPushSizeRule != "" {
		t.Errorf("repository's rules: %+v", p)
	}
	if n, rule := s.maxObjectSize(); n != 1<<5 || rule != "" {
		t.Errorf("max_object_size: %d, %q", n, rule)
	}

	// An identity without limits leaves the repository's (0: none).
	s = &server{settings: receiveconfig.Repo{}, user: &receiveconfig.User{Entry: "*", MaxPushSize: 5}, log: pushlog.New(io.Discard, pushlog.Error, true)}
	if p, err = s.policy(); err != nil || p.MaxPushSize != 5 || p.MaxPushSizeRule != "users.*.max_push_size" || p.DenyNonFastForward {
		t.Errorf("no repository limit: %+v, %v", p, err)
	}
}

// failReader fails the test if the receiver reads the client at all.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the client was read from")
	return 0, errors.New("read")
}

// TestServeRefusesUser: an identity that may not push to the repository
// (or a key without identity with no "*" entry) is refused before
// anything is read from the client, with the rule named, to the client
// (ERROR) and in the log, with the identity.
func TestServeRefusesUser(t *testing.T) {
	noUserKeys(t)
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "c.conf")
	if err := os.WriteFile(conf, []byte("users:\n  alice:\n    repos: [/nowhere]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSTREE_RECEIVE_LOG_STDERR", "1")
	t.Setenv("SSH_CLIENT", "")
	for _, tc := range []struct{ user, want string }{
		{"alice", "refused by users.alice.repos: identity alice may not push to " + repo},
		{"bob", "identity bob has no entry in users:"},
		{"", "this key has no identity"},
	} {
		var stdout, stderr bytes.Buffer
		err := Serve(Options{ConfigFile: conf, User: tc.user}, repo, failReader{t}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.user, err, tc.want)
		}
		if !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("%q: the client was not told: %q", tc.user, stdout.String())
		}
		if tc.user != "" && !strings.Contains(stderr.String(), "user="+tc.user) {
			t.Errorf("%q: log without the identity: %q", tc.user, stderr.String())
		}
	}
	// An invalid identity (ostree-receive run by hand) is refused too.
	err := Serve(Options{ConfigFile: conf, User: "a b"}, repo, failReader{t}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "invalid identity") {
		t.Errorf("invalid identity: %v", err)
	}
	// The same for a 1.x client, before its repository is read; logged.
	var stderr bytes.Buffer
	err = ServeURL(Options{ConfigFile: conf, User: "alice"}, repo, "http://127.0.0.1:1/", nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "refused by users.alice.repos") {
		t.Errorf("1.x client: %v", err)
	}
	if !strings.Contains(stderr.String(), "push from local as alice to "+repo+": error: refused by users.alice.repos") {
		t.Errorf("1.x client: log %q", stderr.String())
	}
}

// TestHookUser: the hook gets the identity as OSTREE_RECEIVE_USER, empty
// for a key without one (not whatever the receiver's environment held).
func TestHookUser(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "user")
	hook := script(t, dir, "hook", `printf '%s' "${OSTREE_RECEIVE_USER-unset}" >"$1"`)
	t.Setenv("OSTREE_RECEIVE_USER", "inherited")
	for _, user := range []string{"alice", ""} {
		s := hookServer(transfer.ShellQuote(hook)+" "+transfer.ShellQuote(out), dir)
		s.identity = user
		s.runHook(context.Background(), []wire.RefUpdate{update("main", object.Zero, sum(1))})
		if got := readFile(t, out); got != user {
			t.Errorf("OSTREE_RECEIVE_USER = %q, want %q", got, user)
		}
	}
}
