// Command ostree-receive is the remote end of ostree-push: it speaks the
// ostree-push protocol on stdin and stdout and writes what it receives into
// one OSTree repository. ostree-push starts it over ssh.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/internal/receive"
	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/internal/testhooks"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

var version = "dev"

type options struct {
	receive.Options
	legacyRepo string // --repo=PATH: a version-0 client
	debug      bool   // --debug, which version-0 clients may pass
	version    bool
	help       bool
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ConfigFile, "config", "", "read only this configuration file (default: $OSTREE_RECEIVE_CONF, else the files below)")
	fs.StringVar(&o.User, "user", "", "the pusher's identity, whose users: entry applies (ostree-receive-shell --user NAME, in the key's forced command, sets it)")
	fs.BoolVar(&o.NoUpdate, "no-update", false, "do not update the summary or run update_hook (config: update: no)")
	fs.BoolVarP(&o.DryRun, "dry-run", "n", false, "report what the push would do; change nothing (config: dry_run)")
	fs.BoolVarP(&o.Force, "force", "f", false, "accept non-fast-forward updates (config: force)")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "log only warnings and errors (log_level WARNING)")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "log each step (log_level DEBUG)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	// The command line of the original ostree-push's clients (protocol
	// version 0): `ostree-receive --repo=PATH [--verbose] [--debug]`.
	fs.StringVar(&o.legacyRepo, "repo", "", "serve a version-0 client (the original ostree-push) into this repository")
	fs.BoolVar(&o.debug, "debug", false, "with --repo: log each step (as -v)")
	fs.MarkHidden("repo")
	fs.MarkHidden("debug")
}

const usage = `Usage: ostree-receive [OPTIONS] REPO
       ostree-receive [OPTIONS] REPO URL [REF...]

Receive a push from ostree-push into the OSTree repository REPO, speaking
the ostree-push protocol on standard input and output. ostree-push runs it
over ssh; it is not meant to be run by hand.

Every object is verified against its checksum while it is staged in a
libostree transaction; refs move only after all objects are in, each one a
compare-and-swap against the value the client saw, all together or none.

With a URL, it serves a client of ostree-push 1.x, which serves its
repository on its own 127.0.0.1 and tunnels it to the server: the refs
named (else every ref of the client's summary but appstream/*, appstream2/*
and ostree-metadata) are pulled from URL, which must be a loopback address,
through the same checks as a push, and keep their checksums (1.x made new
commits on the server). -f forces them. The commands ostree-receive-1 and
ostree-receive-0 are this program under the names ostree-push 1.2 runs.
Diagnostics go to the systemd journal when there is one, else to standard
error.

Options:
`

const configHelp = `
Configuration: YAML files read in order, later keys winning:
/etc/ostree/ostree-receive.conf, then $XDG_CONFIG_HOME/ostree/ostree-receive.conf
(~/.config when unset); $OSTREE_RECEIVE_CONF or --config replaces both. The
keys of the Python ostree-receive 1.x mean what they meant there. Keys:
`

// errUsage marks errors that exit with status 2.
type errUsage struct{ error }

func main() {
	// A client that goes away makes a write to it fail (EPIPE), which
	// ends the push through its abort, staging filtered; SIGPIPE would
	// kill the receiver with its staging as it was, for any transaction
	// to take up.
	signal.Ignore(syscall.SIGPIPE)
	transfer.GrowPipe(os.Stdin) // objects arrive there
	stop := testhooks.Profile("ostree-receive")
	code := run(filepath.Base(os.Args[0]), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves under the name the program was run by (ostree-receive, or
// ostree-receive-1 and ostree-receive-0, the names ostree-push 1.2 runs).
func run(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := serve(name, args, stdin, stdout, stderr)
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "ostree-receive: %s\nTry 'ostree-receive --help'.\n", wire.Printable(err.Error()))
		return 2
	default:
		fmt.Fprintf(stderr, "ostree-receive: %s\n", wire.Printable(err.Error()))
		return 1
	}
}

func serve(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var o options
	fs := pflag.NewFlagSet("ostree-receive", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage{err}
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fmt.Fprint(stdout, configHelp+receiveconfig.Help())
		return nil
	}
	if o.version {
		fmt.Fprintf(stdout, "ostree-receive %s (libostree %s)\n", version, libostree.BuildVersion)
		return nil
	}
	repo := fs.Arg(0)
	pullURL := ""
	switch {
	case o.legacyRepo != "" && fs.NArg() == 0:
		o.Legacy, repo = true, o.legacyRepo
		o.Verbose = o.Verbose || o.debug
	case o.legacyRepo != "":
		return errUsage{errors.New("--repo (a version-0 client) takes no other argument")}
	case fs.NArg() == 0:
		return errUsage{errors.New("missing the repository path")}
	case fs.NArg() >= 2:
		pullURL = fs.Arg(1)
	}
	switch name {
	case "ostree-receive-1":
		if pullURL == "" {
			return errUsage{errors.New("ostree-receive-1 serves ostree-push 1.x clients: REPO URL [REF...]")}
		}
	case "ostree-receive-0":
		if !o.Legacy {
			return errUsage{errors.New("ostree-receive-0 serves clients of the original ostree-push: --repo=REPO")}
		}
	}
	if o.User != "" && !receiveconfig.ValidUser(o.User) {
		return errUsage{fmt.Errorf("--user %q: an identity is a letter or digit, then at most %d letters, digits, '.', '_', '@' or '-'", o.User, receiveconfig.MaxUserLen-1)}
	}
	o.Version = version
	if pullURL != "" {
		if err := receive.CheckPullURL(pullURL); err != nil {
			return errUsage{err}
		}
		return receive.ServeURL(o.Options, repo, pullURL, fs.Args()[2:], stdout, stderr)
	}
	o.BeforeRefLock = testhooks.BeforeRefLock(stderr)
	fault, err := testhooks.Fault()
	if err != nil {
		return err
	}
	o.Fault = fault
	return receive.Serve(o.Options, repo, stdin, stdout, stderr)
}
