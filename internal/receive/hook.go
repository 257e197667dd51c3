package receive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// hookOutputMax bounds what the pusher is shown of a hook's output.
const hookOutputMax = 8 << 10

// hookTimeout bounds an update_hook's run.
const hookTimeout = time.Hour

// waitDelay bounds how long a command's output is still read once it has
// exited or been killed: a process it left running in the background with
// its output open is not waited for. (A variable for the tests.)
var waitDelay = 5 * time.Second

// runHook runs update_hook, split like a shell command line and without a
// shell (as the 1.x receiver did), with OSTREE_RECEIVE_REPO (the absolute
// repository path), OSTREE_RECEIVE_REFS (the refs that moved, separated by
// spaces), OSTREE_RECEIVE_UPDATES (one "REF OLD NEW" line per ref, with
// 64 zeros for a ref that did not exist or was deleted) and
// OSTREE_RECEIVE_USER (the pusher's identity, empty for none). Its failure is
// reported, not undone. It is killed when ctx is done, or after
// hookTimeout.
func (s *server) runHook(ctx context.Context, moved []wire.RefUpdate) []string {
	argv, err := transfer.SplitCommand(s.settings.UpdateHook)
	if err == nil && len(argv) == 0 {
		err = errors.New("empty command")
	}
	if err != nil {
		return []string{fmt.Sprintf("warning: update_hook %q: %v", s.settings.UpdateHook, err)}
	}
	var refs, updates []string
	for _, u := range moved {
		refs = append(refs, u.Ref.Name)
		updates = append(updates, fmt.Sprintf("%s %s %s", u.Ref.Name, u.Old, u.New))
	}
	env := []string{
		"OSTREE_RECEIVE_REPO=" + s.path,
		"OSTREE_RECEIVE_REFS=" + strings.Join(refs, " "),
		"OSTREE_RECEIVE_UPDATES=" + strings.Join(updates, "\n"),
		// Always set: an empty one for a key without identity, not one
		// the receiver's own environment may hold.
		"OSTREE_RECEIVE_USER=" + s.identity,
	}
	s.log.Logf(pushlog.Info, "running update_hook %s", s.settings.UpdateHook)
	ctx, cancel := context.WithTimeoutCause(ctx, hookTimeout, fmt.Errorf("timed out after %v", hookTimeout))
	defer cancel()
	out, err := runCommand(ctx, argv, env)
	var notes []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line != "" {
			notes = append(notes, "update_hook: "+line)
		}
	}
	if err != nil {
		s.log.Logf(pushlog.Error, "update_hook failed: %v", err)
		notes = append(notes, fmt.Sprintf("warning: the refs moved, but update_hook failed: %v", err))
	}
	return notes
}

// runCommand runs argv with extra environment variables and returns its
// combined output, cut to hookOutputMax. It kills the command when ctx is
// done, and then fails with ctx's cause. A command that succeeds but
// leaves a process running that holds its output (a job started in the
// background) succeeds once waitDelay has passed; that process's output
// is not shown.
func runCommand(ctx context.Context, argv []string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = waitDelay
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		err = context.Cause(ctx)
	case errors.Is(err, exec.ErrWaitDelay):
		err = nil
	}
	return out.String(), err
}

// limitedBuffer keeps the first hookOutputMax bytes written to it.
type limitedBuffer struct {
	b       bytes.Buffer
	dropped bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := hookOutputMax - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	if l.b.Len() >= hookOutputMax {
		l.dropped = true
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	if l.dropped {
		return l.b.String() + "\n[output cut]"
	}
	return l.b.String()
}
