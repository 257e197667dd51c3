// Command ostree-push publishes commits from a local OSTree repository to a
// remote one over ssh, the way git push does: it starts ostree-receive on
// the remote host, sends only the objects the remote lacks, and asks it to
// move the refs.
package main

import (
	"io"
	"os"

	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/testhooks"
)

var version = "dev"

func main() {
	stop := testhooks.Profile("ostree-push")
	code := run(os.Args[1:], os.Stdout, os.Stderr, cli.Signals())
	stop()
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	var o options
	do := func(args []string) error { return push(&o, args, stdout, stderr, sigs) }
	return cli.Program{Name: "ostree-push", Usage: usage, Version: version, Flags: o.addFlags, Run: do}.Main(args, stdout, stderr)
}
