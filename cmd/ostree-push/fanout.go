package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// pushMany is ostree-push --to DEST [--to DEST...] [REFSPEC...]: the same
// refs to every destination in one run, each local object read once
// (transfer.PushMany). Each destination gets its own report as soon as it
// is done; one that fails does not stop the others, and the exit status
// is 1 when any failed or rejected a ref.
func pushMany(o *options, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	if o.stdio {
		return cli.Usage(errors.New("--stdio and --to do not go together"))
	}
	var dests []transfer.Destination
	var buckets []bucket.Location
	seen := map[string]bool{}
	for _, s := range o.to {
		if bucket.IsURL(s) {
			loc, err := bucket.ParseURL(s)
			if err != nil {
				return cli.Usage(fmt.Errorf("--to: %v", err))
			}
			if seen[loc.String()] {
				return cli.Usage(fmt.Errorf("--to %s is given twice", loc))
			}
			seen[loc.String()] = true
			buckets = append(buckets, loc)
			continue
		}
		d, err := transfer.ParseDestination(s)
		if err != nil {
			return cli.Usage(fmt.Errorf("--to: %v", err))
		}
		if seen[d.String()] {
			return cli.Usage(fmt.Errorf("--to %s is given twice", d))
		}
		seen[d.String()] = true
		dests = append(dests, d)
	}
	specs, fault, repo, err := setup(o, args)
	if err != nil {
		return err
	}
	defer repo.Close()

	start := time.Now()
	// The object stores are published to beside the ssh fan-out, each on
	// its own (they read the local repository again).
	s3Results := make([]report.Destination, len(buckets))
	var s3Wait sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An interrupt ends both: the publishes' context, and the ssh
	// fan-out, which reads its own copy of the signal.
	sshSigs := make(chan os.Signal, 1)
	defer cli.OnSignal(sigs, func() {
		cancel()
		sshSigs <- os.Interrupt
	})()
	sigs = sshSigs
	var reportMu sync.Mutex
	for i, loc := range buckets {
		s3Wait.Go(func() {
			prog := newProgress(stderr, false)
			res, err := publishTo(ctx, o, loc, specs, repo, prog, nil, stdout, stderr)
			d := report.Destination{Dest: loc.String(), Err: err, Elapsed: time.Since(start)}
			if res != nil && len(res.Refs) > 0 {
				d.Result = &res.PushResult
			}
			s3Results[i] = d
			if o.JSON {
				return
			}
			reportMu.Lock()
			defer reportMu.Unlock()
			if d.Result != nil && (!o.Quiet || !d.Result.OK() || d.Err != nil) {
				report.Write(stderr, d.Result, s3ReportOptions(o, loc), d.Elapsed)
			}
			if d.Err != nil {
				fmt.Fprintf(stderr, "ostree-push: %s\n", wire.Printable(d.Err.Error()))
			}
		})
	}
	// Every return waits for the publishes (an interrupt has cancelled
	// them): none is left half-way with its report untold.
	defer s3Wait.Wait()
	results := make([]report.Destination, len(dests))
	retries := make([][]report.Attempt, len(dests))
	var objectsRead, bytesRead uint64
	pending := make([]int, len(dests)) // indexes into dests still to push
	for i := range dests {
		pending[i] = i
	}
	for round := 1; len(pending) > 0; round++ {
		var sub []transfer.Destination
		for _, i := range pending {
			sub = append(sub, dests[i])
		}
		out, err := fanOutOnce(o, sub, specs, fault, repo, stderr, sigs, start, round <= o.retry)
		if err != nil {
			return err
		}
		objectsRead += out.objectsRead
		bytesRead += out.bytesRead
		var next []int
		for k, i := range pending {
			results[i] = out.results[k]
			results[i].Retries = retries[i]
			if out.lost[k] {
				next = append(next, i)
				retries[i] = append(retries[i], out.attempts[k])
			}
		}
		if len(next) > 0 && !sleepUnlessSignalled(retryDelay(round), sigs) {
			return errors.New("interrupted")
		}
		pending = next
	}
	s3Wait.Wait()
	results = append(results, s3Results...)
	var failed []string
	for _, d := range results {
		if d.Err != nil || !d.Result.OK() {
			failed = append(failed, d.Dest)
		}
	}
	elapsed := time.Since(start)
	if o.JSON {
		if err := report.WriteFanOutJSON(stdout, results, objectsRead, bytesRead, o.DryRun, elapsed); err != nil {
			return err
		}
	} else if len(failed) > 0 {
		fmt.Fprintf(stderr, "ostree-push: %d of %d destinations not updated: %s\n", len(failed), len(results), strings.Join(failed, ", "))
	} else if !o.Quiet && len(results) > 1 {
		fmt.Fprintf(stderr, "%d destinations updated in %.1fs; read %d objects, %s from the local repository for those over ssh\n",
			len(results), elapsed.Seconds(), objectsRead, report.HumanBytes(bytesRead))
	}
	if len(failed) > 0 {
		return cli.ErrRejected
	}
	return nil
}

// fanOutRound is what one round of a push to several destinations did.
type fanOutRound struct {
	results                []report.Destination
	lost                   []bool           // the connection was lost: to be retried
	attempts               []report.Attempt // what a lost destination's try did
	objectsRead, bytesRead uint64
}

// fanOutOnce pushes to dests at once (transfer.PushMany), reporting each
// destination as it is done; with retry, a destination whose connection
// was lost is marked lost instead of reported.
func fanOutOnce(o *options, dests []transfer.Destination, specs []transfer.PushSpec, fault transfer.FaultFunc, repo *store.Repo, stderr io.Writer, sigs <-chan os.Signal, start time.Time, retry bool) (*fanOutRound, error) {
	prog := newProgress(stderr, o.showProgress())
	conns := make([]*transfer.CommandConn, len(dests))
	closeAll := func() {
		for _, c := range conns {
			if c != nil {
				c.Close(30 * time.Second)
			}
		}
	}
	mirrors := make([]transfer.Mirror, len(dests))
	remote := make([][]string, len(dests))
	held := make([]*cli.HeldStderr, len(dests))
	for i, d := range dests {
		// What ssh and the receiver print is marked with the destination.
		held[i] = &cli.HeldStderr{W: &cli.LinePrefixer{W: prog, Prefix: d.String() + ": "}}
		conn, argv, err := connection(o, d, held[i])
		if err != nil {
			closeAll()
			return nil, err
		}
		held[i].SetLive(func() bool { return conn.Received() > 0 })
		conns[i] = conn
		if o.Verbose && !o.JSON {
			prog.println(fmt.Sprintf("%s: running: %s", d, cli.Quoted(argv)))
		}
		name := d.String()
		mirrors[i] = transfer.Mirror{Name: name, R: conn, W: conn, Abort: conn.Kill, Remote: func(msg string) {
			remote[i] = append(remote[i], msg)
			if !o.Quiet && !o.JSON {
				prog.println(name + ": remote: " + msg)
			}
		}}
	}
	defer cli.OnSignal(sigs, func() {
		for _, c := range conns {
			c.Kill()
		}
	})()

	out := &fanOutRound{results: make([]report.Destination, len(dests)), lost: make([]bool, len(dests)), attempts: make([]report.Attempt, len(dests))}
	var mu sync.Mutex
	finished := func(i int, r transfer.MirrorResult) {
		// Done with this destination: end its ssh now, then report it.
		cerr := conns[i].Close(30 * time.Second)
		d := report.Destination{Dest: dests[i].String(), Result: r.Result, Err: r.Err, LeftBehind: r.LeftBehind,
			Remote: remote[i], Elapsed: time.Since(start)}
		switch {
		case d.Err != nil && is1x(dests[i], conns[i], cerr, held[i]):
			d.Err = fmt.Errorf("%s runs the receiver of ostree-push 1.x, which a push to several destinations (--to) cannot include: push to it on its own", dests[i].Host)
		case d.Err != nil:
			held[i].Release()
			lost := retry && connectionLost(dests[i], conns[i], d.Err, cerr)
			d.Err = cli.SSHFailed(d.Err, cerr, dests[i], conns[i])
			if lost {
				mu.Lock()
				out.results[i], out.lost[i] = d, true
				out.attempts[i] = report.Attempt{Error: d.Err.Error(), ObjectsSent: r.ObjectsSent, BytesSent: r.BytesSent}
				mu.Unlock()
				if !o.Quiet && !o.JSON {
					prog.println(fmt.Sprintf("ostree-push: %s: %s; the connection was lost: retrying", d.Dest, wire.Printable(d.Err.Error())))
				}
				return
			}
		default:
			held[i].Release()
		}
		mu.Lock()
		defer mu.Unlock()
		out.results[i] = d
		if o.JSON {
			return
		}
		prog.block(func(w io.Writer) {
			if d.Err != nil {
				fmt.Fprintf(w, "ostree-push: %s: %s\n", d.Dest, wire.Printable(d.Err.Error()))
			} else if !o.Quiet || !d.Result.OK() {
				report.Write(w, d.Result, reportOptions(o, dests[i]), d.Elapsed)
			}
		})
	}
	res, perr := transfer.PushMany(repo, mirrors, transfer.FanOutOptions{
		PushOptions: o.pushOptions(specs, fault, prog, dests...),
		Finished:    finished,
	})
	prog.done()
	closeAll()
	if perr != nil {
		return nil, perr
	}
	out.objectsRead, out.bytesRead = res.ObjectsRead, res.BytesRead
	return out, nil
}
