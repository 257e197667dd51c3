package systemd

import (
	"os/exec"
	"strings"
	"testing"
)

var instanceTests = []struct{ path, want string }{
	{"/srv/repo", "srv-repo"},
	{"/", "-"},
	{"", "-"},
	{"/srv//repo/./", "srv-repo"},
	{"/srv/repo/", "srv-repo"},
	{"/.hidden/a b", `\x2ehidden-a\x20b`},
	{"/a-b/c\\d", `a\x2db-c\x5cd`},
	{"/a:b_c.d/.e", "a:b_c.d-.e"},
	{"/a@b", `a\x40b`},
	{"/ü", `\xc3\xbc`},
	{"/srv/ostree/repo-v2.0", `srv-ostree-repo\x2dv2.0`},
	{"srv/repo", "srv-repo"},
	{"/x/%i$", `x-\x25i\x24`},
}

func TestInstanceName(t *testing.T) {
	for _, tc := range instanceTests {
		if got := InstanceName(tc.path); got != tc.want {
			t.Errorf("InstanceName(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestInstanceNameSystemdEscape compares with systemd-escape --path, when
// it is installed (package systemd), on the table and more.
func TestInstanceNameSystemdEscape(t *testing.T) {
	bin, err := exec.LookPath("systemd-escape")
	if err != nil {
		t.Skip("no systemd-escape; the table in TestInstanceName holds its answers")
	}
	paths := []string{"/srv/ostree/repos/exampleos", "/a~b/c+d/e,f", "/tab\there", "/..x/y..", "/x/.y/", "/UPPER/lower/0123"}
	for _, tc := range instanceTests {
		paths = append(paths, tc.path)
	}
	for _, p := range paths {
		out, err := exec.Command(bin, "--path", "--", p).Output()
		if err != nil {
			t.Errorf("systemd-escape --path %q: %v", p, err)
			continue
		}
		want := strings.TrimSuffix(string(out), "\n")
		if got := InstanceName(p); got != want {
			t.Errorf("InstanceName(%q) = %q, systemd-escape says %q", p, got, want)
		}
		if !strings.HasPrefix(p, "/") {
			continue
		}
		out, err = exec.Command(bin, "--template=ostree-repo-update@.service", "--path", "--", p).Output()
		if err != nil {
			t.Errorf("systemd-escape --template --path %q: %v", p, err)
			continue
		}
		want = strings.TrimSuffix(string(out), "\n")
		if got, err := UnitForRepo("ostree-repo-update@.service", p); err != nil || got != want {
			t.Errorf("UnitForRepo(%q) = %q, %v; systemd-escape says %q", p, got, err, want)
		}
	}
}

func TestUnitForRepo(t *testing.T) {
	long := "/" + strings.Repeat("a", 250)
	for _, tc := range []struct {
		template, repo, want string
		err                  bool
	}{
		{"ostree-repo-update@.service", "/srv/repo", "ostree-repo-update@srv-repo.service", false},
		{"x@.service", "/srv/repo", "x@srv-repo.service", false},
		{"x@.service", "/srv/my-repo", `x@srv-my\x2drepo.service`, false},
		{"x@.service", "/", "x@-.service", false},
		{"mirror@.target", "/srv/repo", "mirror@srv-repo.target", false},
		{"ostree-summary.service", "/srv/repo", "ostree-summary.service", false},
		{"ostree-repo-update@main.service", "/srv/repo", "ostree-repo-update@main.service", false},
		{"a@b@.service", "/srv/repo", "", false}, // instance "b@": not a template
		{"x@.service", "srv/repo", "", true},
		{"x@.service", "/srv/../repo", "", true},
		{"x@.service", "", "", true},
		{"x@.service", long, "", true},
		{"", "/srv/repo", "", true},
		{"none", "/srv/repo", "", true},
		{"ostree-repo-update@%i.service", "/srv/repo", "", true},
		{"x.servic", "/srv/repo", "", true},
		{"@.service", "/srv/repo", "", true},
		{".service", "/srv/repo", "", true},
		{"a b.service", "/srv/repo", "", true},
		{strings.Repeat("a", 248) + ".service", "/srv/repo", "", true},
	} {
		if tc.want == "" && !tc.err {
			tc.want = tc.template
		}
		got, err := UnitForRepo(tc.template, tc.repo)
		if tc.err {
			if err == nil {
				t.Errorf("UnitForRepo(%q, %q) = %q, want an error", tc.template, tc.repo, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("UnitForRepo(%q, %q) = %q, %v; want %q", tc.template, tc.repo, got, err, tc.want)
		}
	}
}
