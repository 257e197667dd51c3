package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// flatpakCmd runs flatpak with a home of its own (its --user installation
// lives there), failing the test on error.
func flatpakCmd(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command("flatpak", args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flatpak %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestFlatpakReadsDerivedSummary: a repository of Flatpak refs whose
// receiver runs update: ostree gets, from the second push on, a summary
// derived from the previous one; flatpak lists the apps from it.
func TestFlatpakReadsDerivedSummary(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("flatpak"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("flatpak not found (run ci/setup): %v", err)
		}
		t.Skipf("flatpak not found (run ci/setup): %v", err)
	}
	e := newEnv(t, 10)
	remote := e.remote("archive")
	conf := e.config("update: ostree\n")
	apps := []string{"org.example.First", "org.example.Second"}
	for i, app := range apps {
		ref := "app/" + app + "/x86_64/stable"
		meta := "[Application]\nname=" + app + "\nruntime=org.example.Platform/x86_64/stable\n"
		e.commit(ref, app, "--add-metadata-string=xa.metadata="+meta)
		r := e.pushEnv(conf, e.dest(remote), ref)
		wantCode(t, r, 0)
		if regenerated := strings.Contains(r.stderr, "summary regenerated from every ref"); regenerated != (i == 0) {
			t.Fatalf("push %d: summary regenerated %v, want %v:\n%s", i, regenerated, i == 0, r.stderr)
		}
	}
	home := t.TempDir()
	flatpakCmd(t, home, "remote-add", "--user", "--no-gpg-verify", "pushed", "file://"+remote)
	out := flatpakCmd(t, home, "remote-ls", "--user", "--columns=application,branch", "pushed")
	for _, app := range apps {
		if !strings.Contains(out, app+"\tstable") {
			t.Errorf("flatpak remote-ls does not list %s:\n%s", app, out)
		}
	}
	testrepo.Fsck(t, remote)
}
