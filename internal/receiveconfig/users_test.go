package receiveconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const usersConf = `
root: %ROOT%
deny_refs: ['secret/*']
users:
  alice:
    repos: [os, '/elsewhere/other']
    allow_refs: ['os/*', '(org.example.Os, os/*)']
    deny_refs: [os/frozen]
    deny_deletes: yes
    deny_non_fast_forward: yes
    max_push_size: 1M
    max_object_size: 64K
  bob:
    repos: ['app*']
    allow_refs: [app/*]
  carol: {}
  "*":
    repos: []
`

// usersRoot makes a root with the repositories os, apps and apps2, and a
// configuration file with usersConf.
func usersRoot(t *testing.T, conf string) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, r := range []string{"os", "apps", "apps2"} {
		if err := os.MkdirAll(filepath.Join(root, r), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(write(t, dir, "c.conf", strings.ReplaceAll(conf, "%ROOT%", root)))
	if err != nil {
		t.Fatal(err)
	}
	return c, root
}

func TestUsers(t *testing.T) {
	c, root := usersRoot(t, usersConf)
	osRepo, apps := filepath.Join(root, "os"), filepath.Join(root, "apps")

	alice, err := c.ForUser("alice", osRepo)
	if err != nil {
		t.Fatal(err)
	}
	if alice.Entry != "alice" || !alice.DenyDeletes || !alice.DenyNonFastForward || alice.MaxPushSize != 1<<20 || alice.MaxObjectSize != 64<<10 {
		t.Fatalf("alice: %+v", alice)
	}
	for _, tt := range []struct {
		coll, ref string
		err       string // "" when allowed
	}{
		{"", "os/stable", ""},
		{"org.example.Os", "os/stable", ""},
		{"", "app/org.example.Foo", "ref app/org.example.Foo is refused by users.alice.allow_refs (os/*, (org.example.Os, os/*))"},
		{"org.example.Other", "os/stable", "refused by users.alice.allow_refs"},
		{"", "os/frozen", `ref os/frozen is refused by users.alice.deny_refs ("os/frozen")`},
	} {
		err := alice.CheckRef(tt.coll, tt.ref)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("alice (%q, %s): %v, want %q", tt.coll, tt.ref, err, tt.err)
		}
	}
	if _, err := c.ForUser("alice", apps); err == nil || !strings.Contains(err.Error(), "users.alice.repos") {
		t.Errorf("alice into apps: %v", err)
	}

	// Globs under root.
	for _, r := range []string{"apps", "apps2"} {
		bob, err := c.ForUser("bob", filepath.Join(root, r))
		if err != nil {
			t.Fatalf("bob into %s: %v", r, err)
		}
		if err := bob.CheckRef("", "os/stable"); err == nil || !strings.Contains(err.Error(), "users.bob.allow_refs (app/*)") {
			t.Errorf("bob os/stable: %v", err)
		}
		if err := bob.CheckRef("", "app/x"); err != nil {
			t.Errorf("bob app/x: %v", err)
		}
	}
	if _, err := c.ForUser("bob", osRepo); err == nil || !strings.Contains(err.Error(), "users.bob.repos") {
		t.Errorf("bob into os: %v", err)
	}

	// No repos: every repository; no rules: every ref.
	carol, err := c.ForUser("carol", apps)
	if err != nil || carol.CheckRef("", "anything") != nil {
		t.Fatalf("carol: %+v, %v", carol, err)
	}

	// Unknown identities and keys without one get "*", which allows no
	// repository here.
	for _, name := range []string{"", "mallory"} {
		if _, err := c.ForUser(name, osRepo); err == nil || !strings.Contains(err.Error(), `users.*.repos`) {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestUsersUnset(t *testing.T) {
	c, root := usersRoot(t, "root: %ROOT%\n")
	u, err := c.ForUser("alice", filepath.Join(root, "os"))
	if err != nil || u != nil {
		t.Fatalf("no users: %+v, %v", u, err)
	}
}

func TestUsersWithoutDefault(t *testing.T) {
	c, root := usersRoot(t, "root: %ROOT%\nusers:\n  alice: {}\n")
	if _, err := c.ForUser("alice", filepath.Join(root, "os")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ForUser("bob", filepath.Join(root, "os")); err == nil || !strings.Contains(err.Error(), `identity bob has no entry in users`) {
		t.Errorf("bob: %v", err)
	}
	if _, err := c.ForUser("", filepath.Join(root, "os")); err == nil || !strings.Contains(err.Error(), `no identity`) {
		t.Errorf("no identity: %v", err)
	}
	// An empty users: mapping refuses everyone.
	c, root = usersRoot(t, "root: %ROOT%\nusers: {}\n")
	if _, err := c.ForUser("alice", filepath.Join(root, "os")); err == nil {
		t.Errorf("users: {}: alice allowed")
	}
}

func TestUsersLayering(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OSTREE_RECEIVE_CONF", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	write(t, dir, "xdg/ostree/ostree-receive.conf", "users:\n  alice:\n    deny_deletes: yes\n")
	c, err := Load(write(t, dir, "a.conf", "users:\n  alice:\n    allow_refs: [os/*]\n"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.ForUser("alice", dir)
	if err != nil || u.DenyDeletes || len(u.AllowRefs) != 1 {
		t.Fatalf("--config only: %+v, %v", u, err)
	}
	// Two files: a later one's entry adds to the earlier one's.
	c = Default()
	for _, text := range []string{"users:\n  alice:\n    deny_deletes: yes\n", "users:\n  alice:\n    allow_refs: [os/*]\n"} {
		if err := c.parse("x", []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	u, err = c.ForUser("alice", dir)
	if err != nil || !u.DenyDeletes || len(u.AllowRefs) != 1 {
		t.Fatalf("layered: %+v, %v", u, err)
	}
}

func TestUsersErrors(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"users: [alice]\n":                              "users: want a mapping",
		"users:\n  alice: [x]\n":                        "users: alice: want a mapping",
		"users:\n  'al ice': {}\n":                      `invalid identity "al ice"`,
		"users:\n  -x: {}\n":                            `invalid identity "-x"`,
		"users:\n  alice:\n    deny_ref: [x]\n":         `users: alice: unknown key "deny_ref"`,
		"users:\n  alice:\n    gpg_sign: [x]\n":         `users: alice: gpg_sign cannot be set per identity`,
		"users:\n  alice:\n    root: /x\n":              `users: alice: root cannot be set per identity`,
		"users:\n  alice:\n    deny_deletes: maybe\n":   "users: alice: deny_deletes: want yes/no",
		"users:\n  alice:\n    allow_refs: ['(x']\n":    "users.alice: ref pattern",
		"users:\n  alice:\n    deny_refs: ['']\n":       "users.alice: empty ref pattern",
		"users:\n  alice:\n    repos: ['']\n":           "users.alice: repos: empty repository path",
		"users:\n  alice:\n    max_push_size: lots\n":   "users: alice: max_push_size",
		"repos:\n  x:\n    users:\n      alice: {}\n":   `repos: x: unknown key "users"`,
		"users:\n  alice:\n    repos: {a: b}\n":         "users: alice: repos: want a list",
		"users:\n  alice:\n    users:\n      bob: {}\n": `users: alice: unknown key "users"`,
	} {
		c, err := Load(write(t, dir, "c.conf", text))
		got := ""
		if err != nil {
			got = err.Error()
		} else if len(c.Warnings) > 0 {
			got = strings.Join(c.Warnings, "; ")
		}
		if !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

func TestValidUser(t *testing.T) {
	for _, ok := range []string{"a", "A", "0", "alice", "bob.smith@example.com", "ci-bot_2", strings.Repeat("a", 64)} {
		if !ValidUser(ok) {
			t.Errorf("ValidUser(%q) false", ok)
		}
	}
	for _, bad := range []string{"", "*", "-a", ".a", "@a", "_a", "a b", "a/b", "a\nb", "a\x1b", "ä", "a:b", "a=b", `a"`, strings.Repeat("a", 65)} {
		if ValidUser(bad) {
			t.Errorf("ValidUser(%q) true", bad)
		}
	}
}
