// Command ostree-receive-shell is a restricted shell for an account that
// only accepts pushes, the way git-shell is for git: it runs ostree-receive
// and nothing else.
//
// Use it as the login shell of a dedicated push account (sshd then runs
// `ostree-receive-shell -c 'COMMAND'`), or as a forced command in
// authorized_keys:
//
//	command="/usr/local/bin/ostree-receive-shell",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding ssh-ed25519 AAAA...
//
// where the client's command arrives in $SSH_ORIGINAL_COMMAND. When both
// apply, sshd runs `ostree-receive-shell -c ostree-receive-shell` and the
// client's command is again taken from $SSH_ORIGINAL_COMMAND.
//
// The forced command may give the key an identity,
//
//	command="/usr/local/bin/ostree-receive-shell --user alice",no-pty,... ssh-ed25519 AAAA...
//
// (through a login shell: `ostree-receive-shell -c 'ostree-receive-shell
// --user alice'`), which ostree-receive gets as its first argument,
// --user=alice, and applies the configuration's users: entry for. The
// client's command cannot set or change it: --user is not among the
// options it may pass. NAME is [A-Za-z0-9][A-Za-z0-9._@-]{0,63}; any other
// refuses every command (exit status 2).
//
// The command is split into words like a POSIX shell does, without any
// expansion, and no shell ever sees it. The only command allowed is
//
//	ostree-receive [-v|--verbose]... REPO
//
// or, from a client of the original ostree-push (protocol version 0),
//
//	ostree-receive --repo=REPO [-v|--verbose|--debug]...
//
// where the first word may also be a path ending in /ostree-receive (what
// ostree-push --receive-command sends), no other option is accepted (a
// client must not pick, for instance, the server's --config), and REPO is
// one non-empty word that does not start with '-'. A leading "~/" in REPO
// is replaced by $HOME. The shell then replaces itself (execve) with the
// ostree-receive installed beside it, or else the first one in
// /usr/local/bin:/usr/bin:/bin; never the program the client named. (A
// test build, with the ostreepush_testhooks tag, also takes one from
// $OSTREE_RECEIVE_SHELL_RECEIVE.)
//
// The receiver gets only HOME, USER, LOGNAME, PATH, SHELL, SSH_CLIENT and
// SSH_CONNECTION of the shell's environment, and LANG, LANGUAGE and LC_*
// when their value is a locale name (not a path): what a client may have
// brought in (AcceptEnv, environment= in authorized_keys,
// PermitUserEnvironment), such as OSTREE_RECEIVE_CONF, XDG_CONFIG_HOME or
// LD_PRELOAD, is dropped. (The shell itself cannot undo LD_* variables:
// keep sshd from accepting them.)
//
// Exit status (once ostree-receive runs, its own):
//
//	0    --help or --version
//	1    interactive use refused: no command was given
//	2    malformed command or usage: unterminated quote, an option that is
//	     not allowed, a missing, empty or extra argument; an invalid --user
//	     in the forced command
//	126  ostree-receive was found but cannot be executed
//	127  command not allowed, or ostree-receive not found
package main

import (
	"os"
	"syscall"

	"github.com/ostree-push/ostree-push/internal/testhooks"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], system{
		lookupEnv:  os.LookupEnv,
		executable: os.Executable,
		exec:       syscall.Exec,
		environ:    os.Environ,
		receiver:   testhooks.ShellReceiver(),
		extraEnv:   testhooks.ShellEnv(),
		stdout:     os.Stdout,
		stderr:     os.Stderr,
	}))
}
