// Package cli holds what the command-line programs share about the
// commands they start: the program installed beside them, the ssh command
// a user chose, and an argv quoted for showing.
package cli

import (
	"fmt"
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
