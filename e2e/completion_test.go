package e2e

// The shell completions of ostree-push (completion/): bash's is run for
// real, as bash calls it, against a repository with refs and an ssh
// configuration in a scratch home; zsh's is checked to parse and load.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
)

func completionDir(t *testing.T) string {
	t.Helper()
	root, err := sshtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "completion")
}

func TestBashCompletion(t *testing.T) {
	t.Parallel()
	requireTool(t, "bash")
	testrepo.RequireTools(t)
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "a"), []byte("a\n"), 0o644)
	testrepo.Init(t, repo, "archive")
	testrepo.Commit(t, repo, "os/stable", tree, "one")
	testrepo.Commit(t, repo, "os/next", tree, "two")
	home := filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte("Host builder mirror\n  HostName 192.0.2.1\nHost *.example\n"), 0o600)
	os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), []byte("repo.example.org,192.0.2.2 ssh-ed25519 AAAA\n[alt.example]:2222 ssh-ed25519 AAAA\n|1|aGFzaGVk|aGFzaGVk ssh-ed25519 AAAA\n"), 0o600)
	script := filepath.Join(completionDir(t), "ostree-push.bash")

	// complete runs the completion function on the command line typed so
	// far, with bash's own word splitting, and returns COMPREPLY.
	complete := func(line string) []string {
		t.Helper()
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `
source "$1" || exit 1
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
# What readline would give: COMP_WORDS split at blanks and COMP_WORDBREAKS.
COMP_WORDS=()
w=
for ((i = 0; i < ${#COMP_LINE}; i++)); do
	c=${COMP_LINE:i:1}
	if [[ $c == [[:space:]] ]]; then
		[[ -n $w ]] && COMP_WORDS+=("$w"); w=
	elif [[ $COMP_WORDBREAKS == *"$c"* ]]; then
		[[ -n $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=("$c"); w=
	else
		w+=$c
	fi
done
COMP_WORDS+=("$w")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_ostree_push
printf '%s\n' "${COMPREPLY[@]}"
`, "_", script, line)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", line, err, out)
		}
		var reply []string
		for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			if l != "" {
				reply = append(reply, l)
			}
		}
		return reply
	}
	for _, tc := range []struct {
		line string
		want []string // exactly these (in any order), or with a "..." last: at least these
	}{
		{"ostree-push --re", []string{"--repo", "--receive-command", "--retry"}},
		{"ostree-push --dry", []string{"--dry-run"}},
		{"ostree-push -", []string{"--repo", "--force", "--json", "-n", "..."}},
		// Destinations: hosts from ~/.ssh/config and known_hosts, as host:.
		{"ostree-push --repo=repo bu", []string{"builder:"}},
		{"ostree-push --repo=repo m", []string{"mirror:"}},
		{"ostree-push --repo=repo alt", []string{"alt.example:"}},
		{"ostree-push --repo=repo ss", []string{"ssh://"}},
		{"ostree-push --repo=repo re", []string{"repo.example.org:", "repo/"}},
		{"ostree-push --repo=repo builder:/sr", nil},
		// Refspecs: the local repository's refs, from --repo in either form.
		{"ostree-push --repo=repo builder:/srv/os ", []string{"os/next", "os/stable"}},
		{"ostree-push --repo repo builder:/srv/os os/s", []string{"os/stable"}},
		{"ostree-push --repo=repo -n builder:/srv/os os/stable os/n", []string{"os/next"}},
		{"ostree-push --repo=repo builder:/srv/os +os/s", []string{"+os/stable"}},
		// After SRC: and for a deletion (:DST), bash replaces only what
		// follows the ':'.
		{"ostree-push --repo=repo builder:/srv/os os/stable:os/n", []string{"os/next"}},
		{"ostree-push --repo=repo builder:/srv/os :os/", []string{"os/next", "os/stable"}},
		// --to DEST: a destination after it, and then only refspecs.
		{"ostree-push --repo=repo --to bu", []string{"builder:"}},
		{"ostree-push --repo=repo --to builder:/srv/os --to m", []string{"mirror:"}},
		{"ostree-push --repo=repo --to builder:/srv/os os/s", []string{"os/stable"}},
		{"ostree-push --repo=repo --to=builder:/srv/os ", []string{"os/next", "os/stable"}},
		// Option values.
		{"ostree-push --repo=re", []string{"repo"}},
		{"ostree-push --repo ", []string{"home", "repo", "tree"}},
	} {
		got := complete(tc.line)
		want := tc.want
		atLeast := len(want) > 0 && want[len(want)-1] == "..."
		if atLeast {
			want = want[:len(want)-1]
		}
		set := map[string]bool{}
		for _, g := range got {
			set[g] = true
		}
		ok := atLeast || len(got) == len(want)
		for _, w := range want {
			ok = ok && set[w]
		}
		if !ok {
			t.Errorf("completing %q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestZshCompletionLoads(t *testing.T) {
	t.Parallel()
	requireTool(t, "zsh")
	dir := completionDir(t)
	if out, err := exec.Command("zsh", "-n", filepath.Join(dir, "_ostree-push")).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n _ostree-push: %v\n%s", err, out)
	}
	// Loaded as compinit does: autoload +X reads the definition.
	cmd := exec.Command("zsh", "-f", "-c", `fpath=("$1" $fpath); autoload -U compinit && compinit -u -D && autoload +X _ostree-push && (( ${+_comps[ostree-push]} )) && print -r -- $_comps[ostree-push]`, "_", dir)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_ostree-push" {
		t.Fatalf("zsh does not register _ostree-push for ostree-push: %v\n%s", err, out)
	}
}
