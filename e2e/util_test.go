package e2e

import (
	"bytes"
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

// runCmd runs cmd with its output captured and logs it under what; a
// command that cannot be started fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd, what string) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := err.(*exec.ExitError); ok {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", what, err)
	}
	t.Logf("%s: exit %d\n%s%s", what, r.code, r.stdout, r.stderr)
	return r
}
