package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ostree-push/ostree-push/internal/sshtest"
)

// testHookNames are the environment variables that switch on the test
// hooks (fault injection, the before-refs hook, profiling, capabilities
// switched off, the shell's receiver). They exist only in binaries built with the
// ostreepush_testhooks tag, as the tests build them.
var testHookNames = []string{
	"OSTREE_PUSH_FAULT",
	"OSTREE_RECEIVE_TEST_BEFORE_REFS",
	"OSTREE_PUSH_CPUPROFILE",
	"OSTREE_PUSH_NO_CAPS",
	"OSTREE_RECEIVE_SHELL_RECEIVE",
}

// TestReleaseBinariesHaveNoTestHooks builds the programs as `make` does,
// without the tag, and looks for the hooks' variable names in them (what
// `strings` would show): a client that can set the receiver's environment
// (AcceptEnv, environment= in authorized_keys) must find nothing there.
func TestReleaseBinariesHaveNoTestHooks(t *testing.T) {
	root, err := sshtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, cmd := range []string{"ostree-push", "ostree-receive", "ostree-receive-shell", "ostree-pull-ssh"} {
		bin := filepath.Join(dir, cmd)
		build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/"+cmd)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range testHookNames {
			if bytes.Contains(data, []byte(name)) {
				t.Errorf("%s (a release build) holds %s", cmd, name)
			}
		}
	}
}
