//go:build ostreepush_testhooks

package testhooks

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// Enabled reports whether the hooks are built in.
const Enabled = true

// Fault is the fault injection $OSTREE_PUSH_FAULT asks for (see
// transfer.ParseFault), or nil.
func Fault() (transfer.FaultFunc, error) {
	// With $OSTREE_PUSH_FAULT_ONCE naming a file, only the first process
	// to create it gets the fault: a retried push's next receiver runs
	// without it.
	if once := os.Getenv("OSTREE_PUSH_FAULT_ONCE"); once != "" {
		f, err := os.OpenFile(once, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil
		}
		f.Close()
	}
	f, err := transfer.ParseFault(os.Getenv("OSTREE_PUSH_FAULT"))
	if err != nil {
		return nil, fmt.Errorf("OSTREE_PUSH_FAULT: %w", err)
	}
	return f, nil
}

// BeforeRefLock returns, when $OSTREE_RECEIVE_TEST_BEFORE_REFS is set, a
// hook that runs it with sh -c just before the receiver takes the ref
// lock: the end-to-end tests move a ref behind a push's back, or kill the
// receiver, at that point.
func BeforeRefLock(stderr io.Writer) func() {
	script := os.Getenv("OSTREE_RECEIVE_TEST_BEFORE_REFS")
	if script == "" {
		return nil
	}
	return func() {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		cmd.Run()
	}
}

// Profile starts a CPU profile when $OSTREE_PUSH_CPUPROFILE names a path
// prefix: the profile goes to PREFIX.NAME.PID (pprof format). The returned
// function stops it; call it before the program exits.
func Profile(name string) (stop func()) {
	prefix := os.Getenv("OSTREE_PUSH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%s.%d", prefix, name, os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: OSTREE_PUSH_CPUPROFILE: %v\n", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintf(os.Stderr, "%s: OSTREE_PUSH_CPUPROFILE: %v\n", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// NoCapabilities lists the capabilities a client is not to offer, from
// $OSTREE_PUSH_NO_CAPS (for measurements: "archive-filez" sends file
// objects as content streams even between archive repositories).
func NoCapabilities() []string {
	return strings.Fields(strings.ReplaceAll(os.Getenv("OSTREE_PUSH_NO_CAPS"), ",", " "))
}

// ShellReceiver is the ostree-receive that ostree-receive-shell runs when
// none is installed beside it: $OSTREE_RECEIVE_SHELL_RECEIVE, or "".
func ShellReceiver() string { return os.Getenv("OSTREE_RECEIVE_SHELL_RECEIVE") }

// ShellEnv names the variables ostree-receive-shell passes on besides its
// allow-list: GORACE, for the race-detector builds the tests run.
func ShellEnv() []string { return []string{"GORACE"} }

// PublishFault returns, when $OSTREE_PUSH_S3_KILL_AT names a step of a
// publish to an object store (internal/publish: objects, dirtrees,
// commits, refs, "ref NAME", summary, summary.sig), a hook that kills the
// process with SIGKILL at that step: no deferred function runs, no
// request is finished, as when a machine dies.
func PublishFault() func(step string) error {
	at := os.Getenv("OSTREE_PUSH_S3_KILL_AT")
	if at == "" {
		return nil
	}
	return func(step string) error {
		if step == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
}
