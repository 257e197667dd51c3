package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/report"
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
	seen := map[string]bool{}
	for _, s := range o.to {
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
			return err
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

	results := make([]report.Destination, len(dests))
	var failed []string
	var mu sync.Mutex
	finished := func(i int, r transfer.MirrorResult) {
		// Done with this destination: end its ssh now, then report it.
		cerr := conns[i].Close(30 * time.Second)
		d := report.Destination{Dest: dests[i].String(), Result: r.Result, Err: r.Err, LeftBehind: r.LeftBehind,
			Remote: remote[i], Elapsed: time.Since(start)}
		switch {
		case d.Err != nil && !dests[i].Local && is1x(conns[i], cerr, held[i]):
			d.Err = fmt.Errorf("%s runs the receiver of ostree-push 1.x, which a push to several destinations (--to) cannot include: push to it on its own", dests[i].Host)
		case d.Err != nil:
			held[i].Release()
			d.Err = cli.SSHFailed(d.Err, cerr, dests[i], conns[i])
		default:
			held[i].Release()
		}
		mu.Lock()
		defer mu.Unlock()
		results[i] = d
		if d.Err != nil || !d.Result.OK() {
			failed = append(failed, d.Dest)
		}
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
		return perr
	}
	elapsed := time.Since(start)
	if o.JSON {
		if err := report.WriteFanOutJSON(stdout, results, res.ObjectsRead, res.BytesRead, o.DryRun, elapsed); err != nil {
			return err
		}
	} else if len(failed) > 0 {
		fmt.Fprintf(stderr, "ostree-push: %d of %d destinations not updated: %s\n", len(failed), len(dests), strings.Join(failed, ", "))
	} else if !o.Quiet && len(dests) > 1 {
		fmt.Fprintf(stderr, "%d destinations updated in %.1fs; read %d objects, %s from the local repository\n",
			len(dests), elapsed.Seconds(), res.ObjectsRead, report.HumanBytes(res.BytesRead))
	}
	if len(failed) > 0 {
		return cli.ErrRejected
	}
	return nil
}
