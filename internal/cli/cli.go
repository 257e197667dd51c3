package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// Beside replaces words[0] by the program of that name installed beside
// the running executable, when words[0] is exactly name and such a program
// exists, so that a local push or pull never picks up another one on PATH.
func Beside(words []string, name string) {
	if len(words) == 0 || words[0] != name {
		return
	}
	if exe, err := os.Executable(); err == nil {
		sibling := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(sibling); err == nil {
			words[0] = sibling
		}
	}
}

// SSHCommand splits the ssh command: flag (--ssh-command), else
// $OSTREE_PUSH_SSH; nil when neither is set (plain ssh).
func SSHCommand(flag string) ([]string, error) {
	s := flag
	if s == "" {
		s = os.Getenv("OSTREE_PUSH_SSH")
	}
	if s == "" {
		return nil, nil
	}
	words, err := transfer.SplitCommand(s)
	if err == nil && len(words) == 0 {
		err = fmt.Errorf("empty command")
	}
	if err != nil {
		return nil, fmt.Errorf("--ssh-command: %v", err)
	}
	return words, nil
}

// Quoted returns argv as one shell-quoted line, for --verbose.
func Quoted(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = transfer.ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// LinePrefixer is the standard error of a transfer.CommandConn, which
// hands on its child's standard error a whole line per Write (see
// transfer.EscapedLines): it writes each to W with Prefix before it, in
// one Write, so that what several ssh processes print to one terminal
// stays attributable.
type LinePrefixer struct {
	W      io.Writer
	Prefix string
}

func (p *LinePrefixer) Write(b []byte) (int, error) {
	p.W.Write(append([]byte(p.Prefix), b...))
	return len(b), nil
}

// SSHFailed words the error of a push or pull over ssh whose ssh exited
// with status 255, ssh's own failure: when nothing came from the other
// side, the host could not be reached or the login failed (ssh's message
// is above, on standard error), which is what the user needs to hear
// rather than a protocol or pipe error; ssh also exits 255, silently, when
// the remote command is killed by a signal. Otherwise the error says ssh
// failed too. Any other error, or a local destination, is err as it is.
func SSHFailed(err, closeErr error, dest transfer.Destination, conn *transfer.CommandConn) error {
	var exit interface{ ExitCode() int }
	if err == nil || closeErr == nil || dest.Local || !errors.As(closeErr, &exit) || exit.ExitCode() != 255 {
		return err
	}
	switch {
	case conn.Received() == 0 && conn.Printed() == 0:
		return fmt.Errorf("ssh to %s exited with status 255 and no message: the connection failed, or the remote command was killed", dest.Host)
	case conn.Received() == 0:
		return fmt.Errorf("cannot reach %s: ssh exited with status 255 (its message is above)", dest.Host)
	}
	return fmt.Errorf("%v (ssh failed: see its message above)", err)
}
