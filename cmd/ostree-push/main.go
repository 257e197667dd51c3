// Command ostree-push publishes commits from a local OSTree repository to a
// remote one over ssh, the way git push does: it starts ostree-receive on
// the remote host, sends only the objects the remote lacks, and asks it to
// move the refs.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/internal/testhooks"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

var version = "dev"

// errUsage marks errors that exit with status 2.
type errUsage struct{ error }

// errRejected means the push ran but a ref was not updated: exit 1, with
// the report already printed.
var errRejected = errors.New("some refs were not updated")

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stop := testhooks.Profile("ostree-push")
	code := run(os.Args[1:], os.Stdout, os.Stderr, sigs)
	stop()
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	var o options
	fs := pflag.NewFlagSet("ostree-push", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	o.addFlags(fs)
	err := fs.Parse(args)
	if err == nil {
		switch {
		case o.help:
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		case o.version:
			fmt.Fprintf(stdout, "ostree-push %s (libostree %s)\n", version, libostreeVersion())
			return 0
		}
		err = push(&o, fs.Args(), stdout, stderr, sigs)
	} else {
		err = errUsage{err}
	}
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "ostree-push: %s\nTry 'ostree-push --help'.\n", transfer.Printable(err.Error()))
		return 2
	case errors.Is(err, errRejected):
		return 1
	default:
		fmt.Fprintf(stderr, "ostree-push: %s\n", transfer.Printable(err.Error()))
		return 1
	}
}
