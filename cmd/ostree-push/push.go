package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testhooks"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// refspecs parses the REFSPEC arguments; --force forces them all.
func refspecs(o *options, args []string) ([]transfer.PushSpec, error) {
	var specs []transfer.PushSpec
	for _, a := range args {
		r, err := cli.ParseRefspec(a, "remote")
		if err != nil {
			return nil, cli.Usage(err)
		}
		specs = append(specs, transfer.PushSpec{Src: r.Src, Dst: wire.RefName{Name: r.Dst}, Force: r.Force || o.Force})
	}
	return specs, nil
}

// setup is what every kind of push needs first: the refspecs, resolved in
// the local repository (a mistyped ref is found before ssh starts), the
// fault injection of the reliability tests, and the local repository,
// which the caller closes.
func setup(o *options, args []string) ([]transfer.PushSpec, transfer.FaultFunc, *store.Repo, error) {
	specs, err := refspecs(o, args)
	if err != nil {
		return nil, nil, nil, err
	}
	fault, err := testhooks.Fault()
	if err != nil {
		return nil, nil, nil, err
	}
	repo, err := store.Open(cli.RepoPath(o.repo))
	if err != nil {
		return nil, nil, nil, err
	}
	if err := transfer.CheckSpecs(repo, specs); err != nil {
		repo.Close()
		return nil, nil, nil, err
	}
	return specs, fault, repo, nil
}

// serveStdio is the sending side of a pull over ssh (ostree-pull-ssh):
// the receiver is the puller at the other end of standard input and
// output, and nothing but the protocol may go to standard output. Errors
// go to standard error, which ssh relays.
func serveStdio(o *options, args []string, stderr io.Writer) error {
	if o.JSON || o.progress {
		return cli.Usage(errors.New("--stdio speaks the protocol on standard output: no --json or --progress"))
	}
	specs, fault, repo, err := setup(o, args)
	if err != nil {
		return err
	}
	defer repo.Close()
	res, err := transfer.Push(os.Stdin, os.Stdout, repo, transfer.PushOptions{
		Specs:  specs,
		DryRun: o.DryRun,
		Agent:  "ostree-push/" + version + " (--stdio)",
		Fault:  fault,
		// The puller is at the other end of ssh.
		Compress: !o.noCompress,
	})
	if err != nil {
		return err
	}
	if !res.OK() {
		return cli.ErrRejected // the puller reports which refs, and why
	}
	return nil
}

// connection starts the receiver for dest and returns its argv too.
func connection(o *options, dest transfer.Destination, stderr io.Writer) (*transfer.CommandConn, []string, error) {
	var argv []string
	if dest.Local {
		words, err := transfer.SplitCommand(o.receiveCommand)
		if err != nil || len(words) == 0 {
			return nil, nil, cli.Usage(fmt.Errorf("--receive-command: %v", err))
		}
		// The default receiver is the one installed beside this program.
		cli.Beside(words, "ostree-receive")
		argv = append(words, dest.Path)
	} else {
		var err error
		if argv, err = o.ssh.Args(dest, o.receiveCommand); err != nil {
			return nil, nil, err
		}
	}
	conn, err := transfer.StartCommand(argv, stderr)
	return conn, argv, err
}

func push(o *options, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	switch o.server1x {
	case server1xAuto, server1xNever, server1xAlways:
	default:
		return cli.Usage(fmt.Errorf("--server-1x: want auto, never or always, not %q", o.server1x))
	}
	if len(o.to) > 0 {
		return pushMany(o, args, stdout, stderr, sigs)
	}
	if o.stdio {
		return serveStdio(o, args, stderr)
	}
	if len(args) == 0 {
		return cli.Usage(errors.New("missing DEST"))
	}
	if bucket.IsURL(args[0]) {
		return publishS3(o, args[0], args[1:], stdout, stderr, sigs)
	}
	dest, err := transfer.ParseDestination(args[0])
	if err != nil {
		return cli.Usage(err)
	}
	specs, fault, repo, err := setup(o, args[1:])
	if err != nil {
		return err
	}
	defer repo.Close()

	start := time.Now()
	if o.server1x == server1xAlways {
		return push1xTo(o, dest, specs, repo, stdout, stderr, sigs, start)
	}
	var (
		res        *transfer.PushResult
		remoteMsgs []string
		attempts   []report.Attempt
	)
	for attempt := 1; ; attempt++ {
		a, err := pushOnce(o, dest, specs, fault, repo, stderr, sigs)
		if err == nil {
			res, remoteMsgs = a.res, a.remote
			break
		}
		if a.is1x {
			if o.server1x == server1xNever {
				return errServer1x{dest.Host}
			}
			return push1xTo(o, dest, specs, repo, stdout, stderr, sigs, start)
		}
		if !a.lost || attempt > o.retry {
			return err
		}
		// The connection was lost: the receiver keeps what it staged
		// (an interrupted push's), and the next attempt, with the resume
		// capability, sends only what is still missing.
		wait := retryDelay(attempt)
		attempts = append(attempts, report.Attempt{Error: err.Error(), ObjectsSent: a.sent.ObjectsSent, BytesSent: a.sent.BytesSent})
		if !o.Quiet && !o.JSON {
			fmt.Fprintf(stderr, "ostree-push: %s\nostree-push: the connection was lost after %d objects, %s; retrying in %s (attempt %d of %d)\n",
				wire.Printable(err.Error()), a.sent.ObjectsSent, report.HumanBytes(a.sent.BytesSent), wait, attempt+1, o.retry+1)
		}
		if !sleepUnlessSignalled(wait, sigs) {
			return err
		}
	}
	elapsed := time.Since(start)
	if o.JSON {
		if err := report.WriteJSON(stdout, res, o.DryRun, elapsed, remoteMsgs, attempts...); err != nil {
			return err
		}
	} else if !o.Quiet || !res.OK() {
		report.Write(stderr, res, reportOptions(o, dest), elapsed)
	}
	if !res.OK() {
		return cli.ErrRejected
	}
	return nil
}

// attempt is one try of a push to one destination.
type attempt struct {
	res    *transfer.PushResult
	remote []string
	sent   transfer.PushProgress // how far it got
	is1x   bool                  // the receiver is ostree-push 1.x's
	lost   bool                  // it failed because the connection was lost
}

// pushOnce starts the receiver for dest and pushes to it once.
func pushOnce(o *options, dest transfer.Destination, specs []transfer.PushSpec, fault transfer.FaultFunc, repo *store.Repo, stderr io.Writer, sigs <-chan os.Signal) (*attempt, error) {
	a := &attempt{}
	held := &cli.HeldStderr{W: stderr}
	conn, argv, err := connection(o, dest, held)
	if err != nil {
		return a, err
	}
	held.SetLive(func() bool { return conn.Received() > 0 })
	if o.Verbose && !o.JSON {
		fmt.Fprintf(stderr, "running: %s\n", cli.Quoted(argv))
	}
	// An interrupt ends the receiver (over ssh: ends ssh, so the remote
	// receiver sees its input end and aborts): the remote stays as it was.
	// (Kill's SIGKILL ends ssh with no exit status: not a lost
	// connection, never retried.)
	defer cli.OnSignal(sigs, conn.Kill)()

	prog := newProgress(stderr, o.showProgress())
	popts := o.pushOptions(specs, fault, prog, dest)
	var mu sync.Mutex
	popts.Progress = func(p transfer.PushProgress) {
		mu.Lock()
		a.sent = p
		mu.Unlock()
		prog.update(p)
	}
	popts.Remote = func(msg string) {
		a.remote = append(a.remote, msg)
		if !o.Quiet && !o.JSON {
			prog.println("remote: " + msg)
		}
	}
	res, perr := transfer.Push(conn, conn, repo, popts)
	prog.done()
	cerr := conn.Close(30 * time.Second)
	if perr != nil && is1x(dest, conn, cerr, held) {
		a.is1x = true
		return a, perr
	}
	held.Release()
	if perr != nil {
		a.lost = connectionLost(dest, conn, perr, cerr)
		return a, cli.SSHFailed(perr, cerr, dest, conn)
	}
	a.res = res
	return a, nil
}

// connectionLost reports whether a push failed (perr) because ssh lost the
// connection after the receiver had spoken (or the remote receiver was
// killed): ssh exited with 255, and the receiver said nothing of why (an
// ERROR is a refusal or the server's failure, which a retry would meet
// again). A connection that never worked, or that an interrupt ended
// (SIGKILL: no exit status), is not lost.
func connectionLost(dest transfer.Destination, conn *transfer.CommandConn, perr, closeErr error) bool {
	var remote *wire.RemoteError
	var exit interface{ ExitCode() int }
	return !dest.Local && conn.Received() > 0 && !errors.As(perr, &remote) &&
		errors.As(closeErr, &exit) && exit.ExitCode() == 255
}

// retryDelay is the wait before attempt+1: 1, 2, 4… seconds, at most 60.
func retryDelay(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 6)
	return min(d, time.Minute)
}

// sleepUnlessSignalled waits for d; false when an interrupt came first.
func sleepUnlessSignalled(d time.Duration, sigs <-chan os.Signal) bool {
	select {
	case <-time.After(d):
		return true
	case <-sigs:
		return false
	}
}

// pushOptions are the options a push to dests takes from the command
// line, the same for one destination and for several: -v's negotiation
// details go above the progress line.
func (o *options) pushOptions(specs []transfer.PushSpec, fault transfer.FaultFunc, prog *progress, dests ...transfer.Destination) transfer.PushOptions {
	logf := func(string, ...any) {}
	if o.Verbose && !o.JSON {
		logf = func(f string, a ...any) { prog.println(fmt.Sprintf(f, a...)) }
	}
	return transfer.PushOptions{
		Specs:          specs,
		DryRun:         o.DryRun,
		Agent:          "ostree-push/" + version,
		Progress:       prog.update,
		Logf:           logf,
		Fault:          fault,
		NoCapabilities: testhooks.NoCapabilities(),
		Compress:       o.compress(dests...),
	}
}

// reportOptions words the git-style report of a push to dest.
func reportOptions(o *options, dest transfer.Destination) report.Options {
	return report.Options{
		Header: "To " + dest.String(), Verb: "sent", DryRun: o.DryRun, Quiet: o.Quiet,
		Hint: "on the remote is not an ancestor of what you pushed; use --force (or +REF) to overwrite it",
	}
}
