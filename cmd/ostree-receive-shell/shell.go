package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

const (
	selfName    = "ostree-receive-shell"
	receiveName = "ostree-receive"
	// safePath is where the receiver is looked for last, never $PATH.
	safePath = "/usr/local/bin:/usr/bin:/bin"
)

// Exit statuses, as documented in the package comment and in --help.
const (
	exitInteractive = 1
	exitUsage       = 2
	exitCannotExec  = 126
	exitNotAllowed  = 127
)

const usage = `Usage: ostree-receive-shell -c COMMAND
       ostree-receive-shell [--user NAME]   (COMMAND in $SSH_ORIGINAL_COMMAND)
       ostree-receive-shell --help | --version

A restricted login shell, or authorized_keys forced command, for an account
that only accepts ostree-push. COMMAND is split into words like a shell
does, without expansions, and must be

    ostree-receive [-v|--verbose]... REPO

or, from a client of the original ostree-push (protocol version 0),

    ostree-receive --repo=REPO [-v|--verbose|--debug]...

or, from a client of ostree-push 1.x (which serves its repository through
an ssh tunnel; 1.2 runs ostree-receive-1, and ostree-receive-0 for the
original protocol),

    ostree-receive[-1] [-n|-f|-q|-v]... REPO http://127.0.0.1:PORT [REF]...
    ostree-receive-0 --repo=REPO [-v|--verbose|--debug]...

(the first word may be any path ending in /ostree-receive, -1 or -0, which
all run ostree-receive; a leading "~/" in REPO means $HOME). It then runs
the ostree-receive installed beside this program, else the one in
/usr/local/bin:/usr/bin:/bin, with those arguments, no shell, and only
these environment variables: HOME, USER, LOGNAME, PATH, SHELL, SSH_CLIENT,
SSH_CONNECTION, and LANG, LANGUAGE and LC_* when their value is a locale
name.

Use as a forced command:

    command="/usr/local/bin/ostree-receive-shell",no-pty,no-port-forwarding ssh-ed25519 AAAA...

(an ostree-push 1.x client needs remote port forwarding, which
no-port-forwarding forbids: for its keys, see ostree-receive-shell(1).)

--user NAME, in the forced command only, gives the key an identity, which
ostree-receive gets as its own --user (the client's command can never set
it): the configuration's users: entry NAME says what the key may push
(see ostree-receive.conf(5)). NAME is a letter or digit, then at most 63
letters, digits, '.', '_', '@' or '-'; any other refuses every command.

    command="/usr/local/bin/ostree-receive-shell --user alice",no-pty,no-port-forwarding ssh-ed25519 AAAA...

Exit status (once ostree-receive runs, its own):
    0    --help or --version
    1    interactive login refused (no command)
    2    malformed command: unterminated quote, an option that is not
         allowed, a missing, empty or extra argument; an invalid --user
    126  ostree-receive cannot be executed
    127  command not allowed, or ostree-receive not found
`

// shellError is an error with the exit status it causes.
type shellError struct {
	code int
	err  error
}

func (e *shellError) Error() string { return e.err.Error() }
func (e *shellError) Unwrap() error { return e.err }

func fail(code int, format string, args ...any) error {
	return &shellError{code: code, err: fmt.Errorf(format, args...)}
}

// errInteractive is the refusal of a session without a command.
var errInteractive = &shellError{code: exitInteractive,
	err: errors.New("interactive login is not allowed; this account only accepts ostree-push")}

// exitCode is the status err causes.
func exitCode(err error) int {
	var se *shellError
	if errors.As(err, &se) {
		return se.code
	}
	return exitCannotExec
}

// parseCommand checks a client's command line and returns the arguments to
// run ostree-receive with (its options, then the repository path), with a
// leading "~/" of the path replaced by home. It never runs anything.
func parseCommand(cmd, home string) ([]string, error) {
	if strings.IndexByte(cmd, 0) >= 0 {
		return nil, fail(exitUsage, "malformed command: NUL byte")
	}
	words, err := transfer.SplitCommand(cmd)
	if err != nil {
		return nil, fail(exitUsage, "malformed command: %v", err)
	}
	if len(words) == 0 {
		return nil, errInteractive
	}
	program := ""
	for _, name := range []string{receiveName, receiveName + "-1", receiveName + "-0"} {
		if isProgram(words[0], name) {
			program = name
		}
	}
	if program == "" {
		return nil, fail(exitNotAllowed, "command not allowed: %q; this account only accepts ostree-push (%s [-v] REPO)", cmd, receiveName)
	}
	positional := 0
	for _, w := range words[1:] {
		if !strings.HasPrefix(w, "-") {
			positional++
		}
	}
	switch {
	case program == receiveName+"-1" || program == receiveName && positional >= 2:
		return parseURLCommand(words, home)
	case program == receiveName+"-0":
		if len(words) < 2 || !slices.ContainsFunc(words[1:], func(w string) bool { return strings.HasPrefix(w, "--repo=") }) {
			return nil, fail(exitUsage, "%s serves clients of the original ostree-push: %s --repo=REPO", program, program)
		}
	}
	var args []string
	rest := words[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		switch {
		case rest[0] == "-v" || rest[0] == "--verbose" || rest[0] == "--debug":
			args = append(args, rest[0])
		case strings.HasPrefix(rest[0], "--repo="):
			// A version-0 client (the original ostree-push):
			// ostree-receive --repo=PATH [-v|--verbose|--debug]...
			if rest[0] == "--repo=" {
				return nil, fail(exitUsage, "empty repository path")
			}
			path, err := expandHome(strings.TrimPrefix(rest[0], "--repo="), home)
			if err != nil {
				return nil, err
			}
			for _, w := range rest[1:] {
				if w != "-v" && w != "--verbose" && w != "--debug" {
					return nil, fail(exitUsage, "%s --repo=PATH takes only -v, --verbose and --debug besides, not %q", receiveName, w)
				}
				args = append(args, w)
			}
			return append(args, "--repo="+path), nil
		default:
			return nil, fail(exitUsage, "%s option not allowed: %q", receiveName, rest[0])
		}
		rest = rest[1:]
	}
	for _, a := range args {
		if a == "--debug" {
			return nil, fail(exitUsage, "%s option not allowed: %q (only with --repo)", receiveName, a)
		}
	}
	switch {
	case len(rest) == 0:
		return nil, fail(exitUsage, "missing repository path in %q", cmd)
	case len(rest) > 1:
		return nil, fail(exitUsage, "extra argument %q after the repository path", rest[1])
	case rest[0] == "":
		return nil, fail(exitUsage, "empty repository path")
	}
	path, err := expandHome(rest[0], home)
	if err != nil {
		return nil, err
	}
	return append(args, path), nil
}

// urlOptions are the options of ostree-push 1.x's receiver a client may
// pass (its own sends -n; --no-update, which would leave the summary stale,
// is not among them).
var urlOptions = map[string]bool{
	"-n": true, "--dry-run": true, "-f": true, "--force": true,
	"-q": true, "--quiet": true, "-v": true, "--verbose": true,
}

// parseURLCommand checks the receiver command of an ostree-push 1.x client,
//
//	PROGRAM [OPTION]... REPO URL [REF]...
//
// with options anywhere (as 1.x parsed them), and returns the options,
// "--", then REPO, URL and the refs: nothing after "--" is read as an
// option.
func parseURLCommand(words []string, home string) ([]string, error) {
	var opts, pos []string
	dashes := false
	for _, w := range words[1:] {
		switch {
		case dashes || !strings.HasPrefix(w, "-"):
			pos = append(pos, w)
		case w == "--":
			dashes = true
		case urlOptions[w]:
			opts = append(opts, w)
		default:
			return nil, fail(exitUsage, "%s option not allowed: %q", receiveName, w)
		}
	}
	if len(pos) < 2 {
		return nil, fail(exitUsage, "want REPO URL [REF...], as ostree-push 1.x sends")
	}
	if pos[0] == "" {
		return nil, fail(exitUsage, "empty repository path")
	}
	repo, err := expandHome(pos[0], home)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(pos[1], "http://") {
		return nil, fail(exitUsage, "extra argument %q after the repository path (only the URL of an ostree-push 1.x client's tunnel, http://127.0.0.1:PORT, may follow it)", pos[1])
	}
	for _, r := range pos[2:] {
		if r == "" || strings.HasPrefix(r, "-") {
			return nil, fail(exitUsage, "ref %q: not a ref name", r)
		}
	}
	return append(append(opts, "--", repo, pos[1]), pos[2:]...), nil
}

// expandHome replaces a leading "~/" of a repository path by home; the
// result must not look like an option.
func expandHome(path, home string) (string, error) {
	if strings.HasPrefix(path, "~/") {
		if home == "" {
			return "", fail(exitUsage, "cannot expand %q: no home directory", path)
		}
		path = strings.TrimSuffix(home, "/") + "/" + path[2:]
	}
	if strings.HasPrefix(path, "-") {
		return "", fail(exitUsage, "repository path %q starts with '-'", path)
	}
	return path, nil
}

// isProgram reports whether word is name or a path whose last element is
// name.
func isProgram(word, name string) bool {
	return word == name || strings.HasSuffix(word, "/"+name)
}

// clientCommand picks the client's command, and the identity of the key,
// from the shell's arguments and environment: `-c COMMAND` (a login
// shell), or $SSH_ORIGINAL_COMMAND (a forced command, `ostree-receive-shell
// [--user NAME]`, possibly run through this shell as `-c
// 'ostree-receive-shell [--user NAME]'`). The identity comes only from the
// forced command, never from the client's command. It returns "" with ok
// false for --help or --version, which it prints to stdout.
func clientCommand(args []string, sys system) (cmd, user string, ok bool, err error) {
	original, hasOriginal := sys.lookupEnv("SSH_ORIGINAL_COMMAND")
	fromOriginal := func(user string) (string, string, bool, error) {
		if !hasOriginal || strings.TrimSpace(original) == "" {
			return "", "", false, errInteractive
		}
		return original, user, true, nil
	}
	switch {
	case len(args) == 0:
		// A forced command, or an interactive login (argv[0] "-..." and no
		// arguments).
		return fromOriginal("")
	case args[0] == "--user" || strings.HasPrefix(args[0], "--user="):
		// A forced command with an identity.
		user, err := parseUser(args)
		if err != nil {
			return "", "", false, err
		}
		return fromOriginal(user)
	case args[0] == "-c":
		if len(args) != 2 {
			return "", "", false, fail(exitUsage, "usage: %s -c COMMAND", selfName)
		}
		if words, err := transfer.SplitCommand(args[1]); err == nil && len(words) >= 1 && isProgram(words[0], selfName) {
			// The forced command, run by the login shell: its own
			// arguments are those of the forced command.
			user := ""
			if len(words) > 1 {
				if user, err = parseUser(words[1:]); err != nil {
					return "", "", false, err
				}
			}
			return fromOriginal(user)
		}
		return args[1], "", true, nil
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(sys.stdout, usage)
		return "", "", false, nil
	case len(args) == 1 && args[0] == "--version":
		fmt.Fprintf(sys.stdout, "%s %s\n", selfName, version)
		return "", "", false, nil
	default:
		return "", "", false, fail(exitUsage, "unexpected arguments %q; usage: %s -c COMMAND (try --help)", args, selfName)
	}
}

// parseUser reads the arguments of a forced command that names the key's
// identity: `--user NAME` or `--user=NAME`, nothing else, NAME a valid
// identity (receiveconfig.ValidUser).
func parseUser(args []string) (string, error) {
	var name string
	switch {
	case len(args) == 2 && args[0] == "--user":
		name = args[1]
	case len(args) == 1 && strings.HasPrefix(args[0], "--user="):
		name = strings.TrimPrefix(args[0], "--user=")
	default:
		return "", fail(exitUsage, "forced command arguments %q: want --user NAME, once and alone; refusing every command (fix authorized_keys)", args)
	}
	if !receiveconfig.ValidUser(name) {
		return "", fail(exitUsage, "invalid identity %q in the forced command's --user: want a letter or digit, then at most %d letters, digits, '.', '_', '@' or '-'; refusing every command (fix authorized_keys)", name, receiveconfig.MaxUserLen-1)
	}
	return name, nil
}

// findReceiver returns the ostree-receive to run: the one beside this
// program, else (in a test build) sys.receiver, else the first one in
// safePath.
func findReceiver(sys system) (string, error) {
	if self, err := sys.executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), receiveName); isExecutable(p) {
			return p, nil
		}
	}
	if p := sys.receiver; p != "" {
		if !filepath.IsAbs(p) {
			return "", fail(exitCannotExec, "the test receiver is not an absolute path: %q", p)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(safePath) {
		if p := filepath.Join(dir, receiveName); isExecutable(p) {
			return p, nil
		}
	}
	return "", fail(exitNotAllowed, "%s not found beside %s or in %s", receiveName, selfName, safePath)
}

// passedEnv are the variables the receiver gets from the shell's
// environment, as sshd sets them; anything else (OSTREE_RECEIVE_CONF,
// XDG_CONFIG_HOME, LD_PRELOAD, a hook's variables...) a client may have
// brought in through AcceptEnv, environment= in authorized_keys or
// PermitUserEnvironment, and is dropped.
var passedEnv = map[string]bool{
	"HOME": true, "USER": true, "LOGNAME": true, "PATH": true, "SHELL": true,
	"SSH_CLIENT": true, "SSH_CONNECTION": true,
}

// isLocaleVar reports whether name is LANG, LANGUAGE or LC_*, which are
// passed on when their value is a locale name (never a path: glibc loads
// a locale named by one).
func isLocaleVar(name string) bool {
	return name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_")
}

// isLocaleName reports whether v looks like a locale name or a LANGUAGE
// list ("en_US.UTF-8", "de_DE@euro", "en_GB:en"): letters, digits and
// "_.@:+-", at most 256 bytes.
func isLocaleName(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.@:+-", c) >= 0) {
			return false
		}
	}
	return true
}

// receiverEnv is what of environ the receiver gets: passedEnv, the locale
// variables holding locale names, and extra (the test build's GORACE).
func receiverEnv(environ, extra []string) []string {
	var out []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if passedEnv[name] || isLocaleVar(name) && isLocaleName(value) || slices.Contains(extra, name) {
			out = append(out, kv)
		}
	}
	return out
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// system is what the shell uses of the process and the OS; tests replace
// it.
type system struct {
	lookupEnv  func(string) (string, bool)
	executable func() (string, error)
	exec       func(argv0 string, argv, envv []string) error
	environ    func() []string
	// receiver is the ostree-receive to run when none is beside the shell
	// (testhooks.ShellReceiver: set only in test builds).
	receiver string
	// extraEnv names variables passed on besides the allow-list
	// (testhooks.ShellEnv: set only in test builds).
	extraEnv []string
	stdout   io.Writer
	stderr   io.Writer
}

// home is $HOME, else the account's home directory from the user database.
func home(sys system) string {
	if h, ok := sys.lookupEnv("HOME"); ok && h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// run does what the shell does with its arguments and returns the exit
// status; on success sys.exec does not return.
func run(args []string, sys system) int {
	err := func() error {
		cmd, user, ok, err := clientCommand(args, sys)
		if err != nil || !ok {
			return err
		}
		receiveArgs, err := parseCommand(cmd, home(sys))
		if err != nil {
			return err
		}
		receiver, err := findReceiver(sys)
		if err != nil {
			return err
		}
		argv := []string{receiver}
		if user != "" {
			// First, as one word: parseCommand never passes on a --user
			// of the client's.
			argv = append(argv, "--user="+user)
		}
		argv = append(argv, receiveArgs...)
		if err := sys.exec(receiver, argv, receiverEnv(sys.environ(), sys.extraEnv)); err != nil {
			code := exitCannotExec
			if errors.Is(err, fs.ErrNotExist) {
				code = exitNotAllowed // as a shell says "not found"
			}
			return fail(code, "cannot run %s: %v", receiver, err)
		}
		return nil
	}()
	if err == nil {
		return 0
	}
	fmt.Fprintf(sys.stderr, "%s: %s\n", selfName, wire.Printable(err.Error()))
	return exitCode(err)
}
