// Command ostree-pull-ssh fetches commits from an OSTree repository that
// it reaches only by ssh, with no HTTP server anywhere: it runs
// `ssh HOST ostree-push --stdio … --repo PATH` and is itself the receiver
// of the ostree-push protocol, into the local repository. The same
// guarantees hold as for a push: every object is verified as it is staged
// in one libostree transaction, and the local refs move together or not at
// all, each a compare-and-swap and a fast-forward unless forced; an
// interrupted pull leaves the local repository as it was.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/push1x"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

var version = "dev"

type options struct {
	repo        string
	ssh         cli.SSHFlags
	sendCommand string
	cli.CommonFlags
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.repo, "repo", "", "local repository to pull into (default: $OSTREE_REPO, else the current directory)")
	o.ssh.Add(fs)
	fs.StringVar(&o.sendCommand, "send-command", "ostree-push", "the ostree-push run on the remote host (it is given --stdio, the refspecs and --repo PATH)")
	o.CommonFlags.Add(fs, "allow local updates that are not fast-forwards", "print the ssh command")
	o.AddJSON(fs)
}

const usage = `Usage: ostree-pull-ssh [OPTIONS] SOURCE [REFSPEC...]

Fetch commits from the OSTree repository SOURCE over ssh into a local
repository, receiving only the objects it lacks; no HTTP server is needed.
The remote host runs ostree-push --stdio. Every object is verified, and the
local refs move all together or none.

SOURCE is [user@]host:PATH, ssh://[user@]host[:port]/PATH, or a local PATH
or file://PATH.

REFSPEC is REF (the remote ref to the local ref of the same name), SRC:DST
(any remote rev SRC to the local ref DST), and may start with + to force
that one ref. Without any, every remote ref is fetched.

Exit status: 0 when every ref was updated or already up to date, 1 when a
ref was rejected or the pull failed, 2 on a usage error.

Options:
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, cli.Signals())) }

func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	var o options
	do := func(args []string) error { return pull(&o, args, stdout, stderr, sigs) }
	return cli.Program{Name: "ostree-pull-ssh", Usage: usage, Version: version, Flags: o.addFlags, Run: do}.Main(args, stdout, stderr)
}

// sendArgs are the sender's arguments before --repo PATH.
func sendArgs(o *options, refspecs []string) []string {
	args := []string{"--stdio"}
	if o.Force {
		args = append(args, "--force")
	}
	if o.DryRun {
		args = append(args, "--dry-run")
	}
	return append(append(args, refspecs...), "--repo")
}

// command returns the argv that starts the sender for src.
func command(o *options, src transfer.Destination, refspecs []string) ([]string, error) {
	words, err := transfer.SplitCommand(o.sendCommand)
	if err != nil || len(words) == 0 {
		return nil, cli.Usage(fmt.Errorf("--send-command: %v", err))
	}
	if src.Local {
		// No network between them: nothing is worth deflating.
		cli.Beside(words, "ostree-push")
		return append(append(append(words, "--no-compress"), sendArgs(o, refspecs)...), src.Path), nil
	}
	remote := o.sendCommand
	for _, a := range sendArgs(o, refspecs) {
		remote += " " + transfer.ShellQuote(a)
	}
	return o.ssh.Args(src, remote)
}

func pull(o *options, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	if len(args) == 0 {
		return cli.Usage(errors.New("missing SOURCE"))
	}
	src, err := transfer.ParseDestination(args[0])
	if err != nil {
		return cli.Usage(err)
	}
	// The refspecs are checked here, before ssh starts: the sources are
	// resolved over there, the local names must be valid here.
	for _, a := range args[1:] {
		if strings.HasPrefix(strings.TrimPrefix(a, "+"), ":") {
			return cli.Usage(fmt.Errorf("refspec %q: a pull cannot delete a ref", a))
		}
		if _, err := cli.ParseRefspec(a, "local"); err != nil {
			return cli.Usage(err)
		}
	}
	repo, err := store.Open(cli.RepoPath(o.repo))
	if err != nil {
		return err
	}
	defer repo.Close()
	repo.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "ostree-pull-ssh: "+format+"\n", args...) }
	argv, err := command(o, src, args[1:])
	if err != nil {
		return err
	}
	if o.Verbose && !o.JSON {
		fmt.Fprintf(stderr, "running: %s\n", cli.Quoted(argv))
	}
	start := time.Now()
	held := &cli.HeldStderr{W: stderr}
	conn, err := transfer.StartCommand(argv, held)
	if err != nil {
		return err
	}
	held.SetLive(func() bool { return conn.Received() > 0 })
	defer cli.OnSignal(sigs, conn.Kill)() // the transaction is abandoned: nothing changes here
	res, rerr := transfer.Receive(conn, conn, repo, transfer.ReceiveOptions{Agent: "ostree-pull-ssh/" + version})
	cerr := conn.Close(30 * time.Second)
	if rerr != nil && !src.Local && push1x.IsSender1x(conn.Received(), held.Text()) {
		return fmt.Errorf("%s runs ostree-push 1.x, which cannot serve a pull (ostree-pull-ssh runs ostree-push --stdio there): install this ostree-push on %s, or pull from it with ostree pull over HTTP", src.Host, src.Host)
	}
	held.Release()
	if rerr != nil {
		return cli.SSHFailed(rerr, cerr, src, conn)
	}
	out := &transfer.PushResult{ObjectsSent: res.ObjectsWritten, BytesSent: res.BytesWritten}
	for i, r := range res.Refs {
		u := res.Updates[i]
		out.Refs = append(out.Refs, transfer.RefOutcome{Ref: r.Ref, Old: u.Old, New: u.New, Status: r.Status, Message: r.Message,
			Forced: r.Forced && r.Status == wire.StatusOK, Signed: r.Metadata})
	}
	elapsed := time.Since(start)
	if o.JSON {
		if err := report.WriteJSON(stdout, out, res.DryRun, elapsed, nil); err != nil {
			return err
		}
	} else if !o.Quiet || !out.OK() {
		report.Write(stderr, out, report.Options{
			Header: "From " + src.String(), Verb: "received", DryRun: res.DryRun, Quiet: o.Quiet,
			Hint: "here is not an ancestor of what you pulled; use --force (or +REF) to overwrite it",
		}, elapsed)
	}
	if !out.OK() {
		return cli.ErrRejected
	}
	return nil
}
