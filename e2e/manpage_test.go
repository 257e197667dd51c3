package e2e

// The man pages (man/*.scd) document exactly what the binaries' --help
// shows: every option of each command, and every configuration key of
// ostree-receive, and nothing that is not there. The pages are built with
// scdoc, which must accept them.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/sshtest"
)

// helpOptions runs `CMD --help` and returns the options it lists: the
// words starting with - at the start of its option lines.
func helpOptions(t *testing.T, cmd string) (opts []string, help string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, cmd), "--help").Output()
	if err != nil {
		t.Fatalf("%s --help: %v", cmd, err)
	}
	re := regexp.MustCompile(`^\s+(-[a-z]|--[a-z0-9-]+)(?:, (--[a-z0-9-]+))?\b`)
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			for _, o := range m[1:] {
				if o != "" && !seen[o] {
					seen[o] = true
					opts = append(opts, o)
				}
			}
		}
	}
	sort.Strings(opts)
	return opts, string(out)
}

// manPage reads man/NAME.scd.
func manPage(t *testing.T, name string) string {
	t.Helper()
	root, err := sshtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "man", name+".scd"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// section returns the text of a "# NAME" section of an scdoc page.
func section(page, name string) string {
	i := strings.Index(page, "\n# "+name+"\n")
	if i < 0 {
		return ""
	}
	rest := page[i+len(name)+4:]
	if j := strings.Index(rest, "\n# "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// manOptions returns the options an OPTIONS section defines: the bold
// -x / --xxx words of its unindented term lines.
func manOptions(opts string) []string {
	re := regexp.MustCompile(`\*(-[a-z]|--[a-z0-9-]+)\*`)
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(opts, "\n") {
		if !strings.HasPrefix(line, "*-") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestManPagesMatchHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"ostree-push", "ostree-receive", "ostree-receive-shell", "ostree-pull-ssh"} {
		t.Run(cmd, func(t *testing.T) {
			help, _ := helpOptions(t, cmd)
			if cmd == "ostree-receive-shell" {
				// Its usage lines name -c, --user and
				// --help/--version rather than an option table.
				help = []string{"--help", "--user", "--version", "-c", "-h"}
			}
			page := manPage(t, cmd+".1")
			man := manOptions(section(page, "OPTIONS"))
			if strings.Join(help, " ") != strings.Join(man, " ") {
				t.Errorf("%s: --help lists %v\nbut %s.1's OPTIONS define %v", cmd, help, cmd, man)
			}
		})
	}
}

func TestShellHelpNamesItsOptions(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(filepath.Join(binDir, "ostree-receive-shell"), "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"-c COMMAND", "--user NAME", "--help", "--version"} {
		if !strings.Contains(string(out), o) {
			t.Errorf("ostree-receive-shell --help does not mention %s", o)
		}
	}
}

func TestConfManPageMatchesHelp(t *testing.T) {
	t.Parallel()
	_, help := helpOptions(t, "ostree-receive")
	// The keys: lines of two spaces, a key, then " (default" or the end.
	re := regexp.MustCompile(`(?m)^  ([a-z_]+)(?: \(default|$)`)
	var keys []string
	for _, m := range re.FindAllStringSubmatch(help, -1) {
		keys = append(keys, m[1])
	}
	sort.Strings(keys)
	page := section(manPage(t, "ostree-receive.conf.5"), "KEYS")
	re = regexp.MustCompile(`(?m)^\*([a-z_]+):\*`)
	var man []string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		man = append(man, m[1])
	}
	sort.Strings(man)
	if len(keys) < 20 {
		t.Fatalf("found only %d keys in ostree-receive --help: %v", len(keys), keys)
	}
	if strings.Join(keys, " ") != strings.Join(man, " ") {
		t.Errorf("ostree-receive --help lists the keys %v\nbut ostree-receive.conf(5) defines %v", keys, man)
	}
}

func TestManPagesBuild(t *testing.T) {
	t.Parallel()
	scdoc, err := exec.LookPath("scdoc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("scdoc not found (run ci/setup): %v", err)
		}
		t.Skip("scdoc not found (run ci/setup)")
	}
	root, _ := sshtest.RepoRoot()
	pages, _ := filepath.Glob(filepath.Join(root, "man", "*.scd"))
	if len(pages) != 5 {
		t.Fatalf("want 5 man pages, found %v", pages)
	}
	for _, p := range pages {
		in, _ := os.Open(p)
		cmd := exec.Command(scdoc)
		cmd.Stdin = in
		out, err := cmd.CombinedOutput()
		in.Close()
		if err != nil {
			t.Errorf("scdoc %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}
