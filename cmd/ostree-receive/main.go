// Command ostree-receive is the remote end of ostree-push: it speaks the
// ostree-push protocol on stdin and stdout and writes what it receives into
// one OSTree repository. ostree-push starts it over ssh.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

var version = "dev"

type options struct {
	verbose bool
	version bool
	help    bool
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log each step to stderr")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
}

const usage = `Usage: ostree-receive [OPTIONS] REPO

Receive a push from ostree-push into the OSTree repository REPO, speaking
the ostree-push protocol on standard input and output. ostree-push runs it
over ssh; it is not meant to be run by hand.

Every object is verified against its checksum while it is staged in a
libostree transaction; refs move only after all objects are in, each one a
compare-and-swap against the value the client saw, all together or none.
Diagnostics go to standard error.

Options:
`

// errUsage marks errors that exit with status 2.
type errUsage struct{ error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := receive(args, stdin, stdout, stderr)
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "ostree-receive: %v\nTry 'ostree-receive --help'.\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "ostree-receive: %v\n", err)
		return 1
	}
}

func receive(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var o options
	fs := pflag.NewFlagSet("ostree-receive", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage{err}
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if o.version {
		fmt.Fprintf(stdout, "ostree-receive %s (libostree %s)\n", version, libostree.BuildVersion)
		return nil
	}
	if fs.NArg() != 1 {
		return errUsage{errors.New("want exactly one argument: the repository path")}
	}
	logger := log.New(stderr, "ostree-receive: ", 0)
	logf := func(string, ...any) {}
	if o.verbose {
		logf = logger.Printf
	}
	path := fs.Arg(0)
	repo, err := store.Open(path)
	if err != nil {
		return err
	}
	defer repo.Close()
	res, err := transfer.Receive(stdin, stdout, repo, transfer.ReceiveOptions{
		Agent:         "ostree-receive/" + version,
		Logf:          logf,
		BeforeRefLock: testHook(stderr),
	})
	if err != nil {
		return err
	}
	for i, r := range res.Refs {
		u := res.Updates[i]
		logf("%s %s..%s: %s %s", r.Ref, u.Old.Short(), u.New.Short(), r.Status, r.Message)
	}
	logf("%d objects, %d bytes received", res.ObjectsWritten, res.BytesWritten)
	return nil
}

// testHook returns, when $OSTREE_RECEIVE_TEST_BEFORE_REFS is set, a hook
// that runs it with sh -c just before the receiver takes the ref lock. The
// end-to-end tests use it to move a ref behind a push's back or to kill the
// receiver at that point; it has no other use.
func testHook(stderr io.Writer) func() {
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
