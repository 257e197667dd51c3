package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// execPush runs ostree-push with no ssh configuration and returns its
// combined output.
func execPush(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "ostree-push"), args...).CombinedOutput()
	return string(out), err
}

func exitCode(err error) int {
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
