package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Program is the frame of ostree-push and ostree-pull-ssh: flags parsed,
// --help and --version answered, and the error Run returns turned into
// the exit status and its message.
type Program struct {
	Name    string                  // as in messages: "ostree-push"
	Usage   string                  // --help prints it, then the flags
	Version string                  // the version --version prints
	Flags   func(fs *pflag.FlagSet) // the program's own flags
	Run     func(args []string) error
}

// UsageError is a mistake in the command line: exit status 2, with a hint
// to --help.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a UsageError.
func Usage(err error) error { return UsageError{err} }

// ErrRejected means the program ran and reported what went wrong, a ref
// that did not move: exit status 1, nothing more to print.
var ErrRejected = errors.New("some refs were not updated")

// Main runs the program with args and returns its exit status: 0, 1 when
// Run failed, 2 on a usage error.
func (p Program) Main(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(p.Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	p.Flags(fs)
	version := fs.Bool("version", false, "print the version and exit")
	help := fs.BoolP("help", "h", false, "show this help and exit")
	err := fs.Parse(args)
	switch {
	case err != nil:
		err = Usage(err)
	case *help:
		fmt.Fprint(stdout, p.Usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	case *version:
		fmt.Fprintf(stdout, "%s %s (libostree %s)\n", p.Name, p.Version, libostree.BuildVersion)
		return 0
	default:
		err = p.Run(fs.Args())
	}
	return p.exit(err, stderr)
}

// exit is the one switch from an error to the exit status.
func (p Program) exit(err error, stderr io.Writer) int {
	var u UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "%s: %s\nTry '%s --help'.\n", p.Name, wire.Printable(err.Error()), p.Name)
		return 2
	case errors.Is(err, ErrRejected):
		return 1
	default:
		fmt.Fprintf(stderr, "%s: %s\n", p.Name, wire.Printable(err.Error()))
		return 1
	}
}

// RepoPath is the local repository: flag (--repo), else $OSTREE_REPO,
// else the current directory.
func RepoPath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("OSTREE_REPO"); env != "" {
		return env
	}
	return "."
}

// CommonFlags are the flags both programs take beside the ssh ones, with
// the same letters and meaning; only the help of --force and --verbose
// says what they do in each.
type CommonFlags struct {
	Force, DryRun, Quiet, Verbose, JSON bool
}

// Add defines -f, -n, -q, -v and --json on fs.
func (c *CommonFlags) Add(fs *pflag.FlagSet, forceHelp, verboseHelp string) {
	fs.BoolVarP(&c.Force, "force", "f", false, forceHelp)
	fs.BoolVarP(&c.DryRun, "dry-run", "n", false, "negotiate and report what would happen; change nothing")
	fs.BoolVarP(&c.Quiet, "quiet", "q", false, "print only errors")
	fs.BoolVarP(&c.Verbose, "verbose", "v", false, verboseHelp)
}

// AddJSON defines --json on fs.
func (c *CommonFlags) AddJSON(fs *pflag.FlagSet) {
	fs.BoolVar(&c.JSON, "json", false, "print the result as one JSON object on stdout")
}

// SSHFlags are the ssh options both programs take.
type SSHFlags struct {
	Port     string
	Identity string
	Options  []string
	Command  string
}

// Add defines -p, -i, -o and --ssh-command on fs.
func (f *SSHFlags) Add(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Port, "port", "p", "", "ssh port")
	fs.StringVarP(&f.Identity, "identity", "i", "", "ssh identity file")
	fs.StringArrayVarP(&f.Options, "ssh-option", "o", nil, "ssh option, as for ssh -o (repeatable)")
	fs.StringVar(&f.Command, "ssh-command", "", "ssh program and arguments, split like a shell (default: $OSTREE_PUSH_SSH, else ssh)")
}

// Args is the argv of ssh to dest running remote (a shell command line).
func (f *SSHFlags) Args(dest transfer.Destination, remote string) ([]string, error) {
	base, err := f.Base(dest)
	if err != nil {
		return nil, err
	}
	return append(base, "--", dest.Host, transfer.RemoteCommand(remote, dest.Path)), nil
}

// Base is the ssh program and its options for dest, without the host and
// a command (see transfer.SSHBase).
func (f *SSHFlags) Base(dest transfer.Destination) ([]string, error) {
	command, err := SSHCommand(f.Command)
	if err != nil {
		return nil, Usage(err)
	}
	return transfer.SSHBase(dest, transfer.SSHOptions{
		Command:  command,
		Port:     f.Port,
		Identity: f.Identity,
		Options:  f.Options,
	}), nil
}

// Signals is the channel a program's interrupts (SIGINT, SIGTERM) arrive
// on, for OnSignal: caught, so that the program ends its child in order.
func Signals() <-chan os.Signal {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	return sigs
}

// OnSignal calls f when a signal arrives on sigs, until stop is called.
func OnSignal(sigs <-chan os.Signal, f func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			f()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// Refspec is one REFSPEC argument: Src, the rev on the sending side ("" to
// delete, in a push), Dst the ref it moves on the receiving side, Force
// to allow a non-fast-forward.
type Refspec struct {
	Src   string
	Dst   string
	Force bool
}

// ParseRefspec parses REF, SRC:DST, :DST and a leading + (force). Dst must
// be a valid ref name; Src is any rev, resolved where it lives. side names
// where Dst is, for messages: "remote" for a push, "local" for a pull.
func ParseRefspec(s, side string) (Refspec, error) {
	var spec Refspec
	if strings.HasPrefix(s, "+") {
		spec.Force = true
		s = s[1:]
	}
	src, dst, hasColon := strings.Cut(s, ":")
	if !hasColon {
		dst = src
	}
	if dst == "" {
		return spec, fmt.Errorf("refspec %q names no %s ref", s, side)
	}
	if strings.Contains(dst, ":") {
		return spec, fmt.Errorf("refspec %q has more than one ':'", s)
	}
	if err := libostree.ValidateRef(dst); err != nil {
		return spec, fmt.Errorf("refspec %q: invalid %s ref name: %v", s, side, err)
	}
	spec.Src, spec.Dst = src, dst
	return spec, nil
}
