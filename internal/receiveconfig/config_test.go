package receiveconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The example file of the Python 1.x receiver, with every key set.
const python1x = `
root: /srv/ostree
gpg_sign: ['76543210', ABCDEF01]
gpg_homedir: /srv/gnupg
gpg_verify: yes
gpg_trustedkeys: /etc/ostree/keys.gpg
sign_type: ed25519
sign_keyfiles: [/etc/ostree/secret.ed25519]
sign_verify: true
sign_trustedkeyfile: /etc/ostree/trusted.ed25519
update: no
update_hook: /usr/local/bin/after-push
repos:
  foo:
    gpg_sign: ['99999999']
  /path/to/bar:
    update: yes
log_level: DEBUG
force: yes
dry_run: no
`

func TestPython1xKeys(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OSTREE_RECEIVE_CONF", write(t, dir, "c.conf", python1x))
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := Repo{
		GPGSign: []string{"76543210", "ABCDEF01"}, GPGHomedir: "/srv/gnupg", GPGVerify: true,
		GPGTrustedKeys: "/etc/ostree/keys.gpg", SignType: "ed25519",
		SignKeyfiles: []string{"/etc/ostree/secret.ed25519"}, SignVerify: true,
		SignTrustedKeyfile: "/etc/ostree/trusted.ed25519", Update: UpdateNo,
		UpdateHook: "/usr/local/bin/after-push", Force: true, MaxObjectSize: 64 << 30,
		IdleTimeout: DefaultIdleTimeout, StagingMaxAge: 24 * time.Hour, MaxPushDuration: DefaultMaxPushDuration, LockTimeout: 5 * time.Minute, MaxRefs: 200000,
	}
	if !reflect.DeepEqual(c.Repo, want) || c.Root != "/srv/ostree" || c.LogLevel != "DEBUG" {
		t.Fatalf("got %+v root %q level %q\nwant %+v", c.Repo, c.Root, c.LogLevel, want)
	}
	if len(c.Warnings) != 0 {
		t.Fatalf("warnings for 1.x keys: %v", c.Warnings)
	}
	if len(c.Repos) != 2 || c.Repos[0].Path != "foo" {
		t.Fatalf("repos: %+v", c.Repos)
	}
}

func TestLayering(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OSTREE_RECEIVE_CONF", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	write(t, dir, "xdg/ostree/ostree-receive.conf", "update: no\ndeny_deletes: yes\n")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	// /etc/ostree/ostree-receive.conf normally does not exist here; the
	// user file applies over the defaults.
	if c.UpdateOn() || !c.DenyDeletes || !strings.HasSuffix(c.Files[len(c.Files)-1], "xdg/ostree/ostree-receive.conf") {
		t.Fatalf("user file not applied: %+v files %v", c.Repo, c.Files)
	}
	// --config replaces both.
	explicit := write(t, dir, "explicit.conf", "max_push_size: 1G\n")
	c, err = Load(explicit)
	if err != nil {
		t.Fatal(err)
	}
	if !c.UpdateOn() || c.DenyDeletes || c.MaxPushSize != 1<<30 || len(c.Files) != 1 {
		t.Fatalf("--config did not replace the defaults: %+v files %v", c.Repo, c.Files)
	}
	// An explicit file must exist.
	if _, err := Load(filepath.Join(dir, "missing.conf")); err == nil {
		t.Fatal("missing --config file accepted")
	}
	t.Setenv("OSTREE_RECEIVE_CONF", filepath.Join(dir, "missing.conf"))
	if _, err := Load(""); err == nil {
		t.Fatal("missing $OSTREE_RECEIVE_CONF file accepted")
	}
}

func TestErrorsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		text, err string
	}{
		{"update: maybe\n", "update: want auto, ostree, flatpak or no"},
		{"gpg_verify: 1\n", "gpg_verify: want yes/no"},
		{"gpg_sign: {a: b}\n", "gpg_sign: want a list"},
		{"root: [a]\n", "root: want a string"},
		{"max_object_size: lots\n", "invalid size"},
		{"- a\n- b\n", "not a YAML mapping"},
		{"update: [\n", "config"},
		{"log_level: LOUD\n", "log_level"},
		{"sign_type: rsa\n", "only ed25519"},
		{"repos:\n  foo:\n    root: /x\n", "only be set globally"},
		{"repos: [a]\n", "repos: want a mapping"},
		{"repos:\n  foo:\n    update: 3\n", "repos: foo: update"},
		{"idle_timeout: soon\n", "invalid duration"},
		{"idle_timeout: -5s\n", "invalid duration"},
		{"idle_timeout: [1m]\n", "idle_timeout: want a duration"},
		{"idle_timeout: 1.5\n", "idle_timeout: want a duration"},
	} {
		p := write(t, dir, "c.conf", tc.text)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("#%d %q: error %v, want %q", i, tc.text, err, tc.err)
		}
	}
	p := write(t, dir, "w.conf", "colour: blue\nupdate: yes\nrepos:\n  x:\n    shape: round\n")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], `unknown key "colour"`) {
		t.Fatalf("warnings %v", c.Warnings)
	}
	// Empty and null documents are fine.
	for _, text := range []string{"", "# nothing\n", "~\n", "repos:\n"} {
		if _, err := Load(write(t, dir, "e.conf", text)); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	if _, err := Load(dir); err == nil {
		t.Error("a directory as config file accepted")
	}
}

func TestForRepoAndRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"root/foo", "root/bar", "outside"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Symlink(filepath.Join(dir, "outside"), filepath.Join(root, "escape"))
	os.Symlink(filepath.Join(root, "foo"), filepath.Join(dir, "link-to-foo"))
	p := write(t, dir, "c.conf", "root: "+root+"\nupdate: yes\nrepos:\n  foo:\n    update: no\n    deny_refs: ['x/*']\n  "+
		filepath.Join(root, "bar")+":\n    force: yes\n")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		in, want, err string
	}{
		{in: "foo", want: filepath.Join(root, "foo")},
		{in: filepath.Join(root, "bar"), want: filepath.Join(root, "bar")},
		{in: "foo/../bar", want: filepath.Join(root, "bar")},
		{in: "../outside", err: "not under the configured root"},
		{in: "escape", err: "not under the configured root"},
		{in: filepath.Join(dir, "outside"), err: "not under the configured root"},
		{in: filepath.Join(dir, "link-to-foo"), want: filepath.Join(root, "foo")},
		{in: "missing", err: "no such file"},
		{in: "", err: "empty"},
	} {
		got, err := c.ResolveRepo(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("#%d ResolveRepo(%q) = %q, %v; want error %q", i, tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("#%d ResolveRepo(%q) = %q, %v; want %q", i, tc.in, got, err, tc.want)
		}
	}
	foo := c.ForRepo(filepath.Join(root, "foo"))
	if foo.UpdateOn() || len(foo.DenyRefs) != 1 || foo.Force {
		t.Errorf("foo settings %+v", foo)
	}
	bar := c.ForRepo(filepath.Join(root, "bar"))
	if !bar.UpdateOn() || !bar.Force {
		t.Errorf("bar settings %+v", bar)
	}
	if c.Update != UpdateAuto {
		t.Error("global settings changed by ForRepo")
	}
}

func TestRefPatterns(t *testing.T) {
	for i, tc := range []struct {
		pattern, name string
		match         bool
	}{
		{"*", "anything/at/all", true},
		{"os/*", "os/x86_64/stable", true},
		{"os/*/stable", "os/x86_64/stable", true},
		{"os/*/stable", "os/x86_64/testing", false},
		{"os/?", "os/a", true},
		{"os/?", "os/ab", false},
		{"app/org.example.*", "app/org.example.App/x86_64/stable", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*-beta", "os-beta", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.match {
			t.Errorf("#%d Match(%q, %q) = %v", i, tc.pattern, tc.name, got)
		}
	}
	r := Repo{AllowRefs: []string{"os/*"}, DenyRefs: []string{"os/*/internal"}}
	if err := r.CheckRef("", "os/x/stable"); err != nil {
		t.Error(err)
	}
	if err := r.CheckRef("", "os/x/internal"); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("deny: %v", err)
	}
	if err := r.CheckRef("", "apps/y"); err == nil || !strings.Contains(err.Error(), "allow_refs") {
		t.Errorf("allow: %v", err)
	}
	// Collection refs: plain patterns are the repository's own refs.
	for i, tc := range []struct {
		pattern, coll, name string
		match               bool
	}{
		{"os/*", "", "os/x", true},
		{"os/*", "org.example.Os", "os/x", false},
		{"(org.example.Os, os/*)", "org.example.Os", "os/x", true},
		{"(org.example.Os,os/*)", "org.example.Os", "os/x", true},
		{"(org.example.*, *)", "org.example.Os", "dev/y", true},
		{"(org.example.Os, os/*)", "", "os/x", false},
		{"(org.example.Os, os/*)", "org.example.Other", "os/x", false},
		{"(*, *)", "org.example.Os", "anything", true},
		{"(org.example.Os)", "org.example.Os", "os/x", false},
	} {
		if got := MatchRef(tc.pattern, tc.coll, tc.name); got != tc.match {
			t.Errorf("#%d MatchRef(%q, %q, %q) = %v", i, tc.pattern, tc.coll, tc.name, got)
		}
	}
	cr := Repo{AllowRefs: []string{"os/*", "(org.example.Os, dev/*)"}}
	if err := cr.CheckRef("org.example.Os", "os/y"); err == nil || !strings.Contains(err.Error(), "(org.example.Os, os/y) is not in the server's allow_refs") {
		t.Errorf("a collection ref matched by a plain pattern: %v", err)
	}
	if err := cr.CheckRef("org.example.Os", "dev/y"); err != nil {
		t.Error(err)
	}
	// deny_refs errs on the side of denying: a plain pattern denies the
	// name in any collection too (a deny-only config kept collection refs
	// out before they could be named).
	dr := Repo{DenyRefs: []string{"os/*"}}
	if err := dr.CheckRef("org.example.Os", "os/stable"); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("deny_refs [os/*] and (org.example.Os, os/stable): %v, want denied", err)
	}
	if err := dr.CheckRef("org.example.Os", "dev/x"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"(org.example.Os)", "(org.example.Os, os/*", "(, os/*)", "(org.example.Os, )"} {
		c := &Config{Repo: Repo{SignType: "ed25519", AllowRefs: []string{bad}}, LogLevel: "INFO"}
		if err := c.check(); err == nil || !strings.Contains(err.Error(), "(COLLECTION, REF)") {
			t.Errorf("allow_refs [%q]: %v, want a config error", bad, err)
		}
	}
}

// TestUpdateMethods: update takes yes/no, as the 1.x receiver's bool, or
// a method.
func TestUpdateMethods(t *testing.T) {
	dir := t.TempDir()
	for in, want := range map[string]string{"yes": UpdateAuto, "true": UpdateAuto, "no": UpdateNo, "off": UpdateNo,
		"auto": UpdateAuto, "ostree": UpdateOstree, "flatpak": UpdateFlatpak, "null": UpdateNo} {
		c, err := Load(write(t, dir, "u.conf", "update: "+in+"\n"))
		if err != nil || c.Update != want {
			t.Errorf("update: %s: %q, %v; want %q", in, c.Update, err, want)
		}
	}
	for _, bad := range []string{"sometimes", "1", "[ostree]"} {
		if _, err := Load(write(t, dir, "u.conf", "update: "+bad+"\n")); err == nil || !strings.Contains(err.Error(), "want auto, ostree, flatpak or no") {
			t.Errorf("update: %s: %v", bad, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"0": 0, "512": 512, "4K": 4096, "2M": 2 << 20, "1G": 1 << 30, "3T": 3 << 40, "5GiB": 5 << 30, "7mb": 7 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1X", "99999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestHelpListsEveryKey(t *testing.T) {
	h := Help()
	for _, k := range KeyNames() {
		if !strings.Contains(h, "  "+k+" ") && !strings.Contains(h, "  "+k+"\n") {
			t.Errorf("--help text lacks %s", k)
		}
	}
}

// TestExampleFile: the example configuration at the top of the tree names
// every key, and parses once uncommented.
func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("../../ostree-receive.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range KeyNames() {
		if !strings.Contains(string(data), "#"+k+":") {
			t.Errorf("ostree-receive.conf does not show %s", k)
		}
	}
	// Uncomment every "#key: value" line (and the repos block) and load it.
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		// "#key: value" and the indented lines of "#repos:".
		if strings.HasPrefix(line, "#") && (!strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "#  ")) && line != "#" {
			line = line[1:]
		}
		lines = append(lines, line)
	}
	text := strings.Join(lines, "\n")
	text = strings.Replace(text, "root: null", "root: "+t.TempDir(), 1)
	p := write(t, t.TempDir(), "example.conf", text)
	c, err := Load(p)
	if err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	if u, err := c.ForUser("bob", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "users.bob.repos") {
		t.Fatalf("uncommented example: users: bob: %+v, %v", u, err)
	}
	if len(c.Warnings) != 0 || len(c.Repos) != 2 || !c.UpdateOn() || c.MaxObjectSize != 64<<30 || c.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("uncommented example: %+v", c)
	}
}

func TestIdleTimeout(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]time.Duration{
		"":                                     DefaultIdleTimeout,
		"idle_timeout: 30s\n":                  30 * time.Second,
		"idle_timeout: 1h30m\n":                90 * time.Minute,
		"idle_timeout: 45\n":                   45 * time.Second,
		"idle_timeout: '2m'\n":                 2 * time.Minute,
		"idle_timeout: 0\n":                    0,
		"idle_timeout: 0s\n":                   0,
		"idle_timeout: null\n":                 0,
		"idle_timeout: 500ms\n":                500 * time.Millisecond,
		"repos:\n  x:\n    idle_timeout: 1s\n": DefaultIdleTimeout, // global unchanged
	} {
		c, err := Load(write(t, dir, "c.conf", text))
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if c.IdleTimeout != want {
			t.Errorf("%q: idle timeout %v, want %v", text, c.IdleTimeout, want)
		}
	}
	// Per repository.
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "x"), 0o755)
	c, err := Load(write(t, dir, "r.conf", "root: "+root+"\nidle_timeout: 5m\nrepos:\n  x:\n    idle_timeout: 20s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ForRepo(filepath.Join(root, "x")).IdleTimeout; got != 20*time.Second {
		t.Errorf("repos: x: idle timeout %v, want 20s", got)
	}
	if c.IdleTimeout != 5*time.Minute {
		t.Errorf("global idle timeout %v, want 5m", c.IdleTimeout)
	}
}

// TestParseDuration: seconds, Go durations, days and weeks; nothing
// negative or unknown.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "10m": 10 * time.Minute, "1h30m": 90 * time.Minute,
		"90d": 90 * 24 * time.Hour, "4w": 28 * 24 * time.Hour, "0": 0,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1h", "1y", "d", "1.5d", "ten", "99999999d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}
