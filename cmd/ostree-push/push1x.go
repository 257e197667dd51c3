package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/httprepo"
	"github.com/ostree-push/ostree-push/internal/push1x"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Pushing to a server that runs ostree-push 1.x (--server-1x): with auto,
// a native push whose receiver turns out to be 1.x's is made again the 1.x
// way. 1.x's ostree-receive refuses the native command line (it wants a
// URL) before it opens anything, so nothing ran twice.

const (
	server1xAuto   = "auto"
	server1xNever  = "never"
	server1xAlways = "always"
)

// errServer1x is a native push that found a 1.x receiver.
type errServer1x struct{ host string }

func (e errServer1x) Error() string {
	return fmt.Sprintf("%s runs the receiver of ostree-push 1.x, which does not speak this protocol; --server-1x=auto (the default) pushes to it the 1.x way", e.host)
}

// is1x reports whether a native push to dest that failed met a 1.x
// receiver.
func is1x(dest transfer.Destination, conn *transfer.CommandConn, closeErr error, held *cli.HeldStderr) bool {
	var exit interface{ ExitCode() int }
	if dest.Local || !errors.As(closeErr, &exit) {
		return false
	}
	return push1x.IsReceiver1x(conn.Received(), exit.ExitCode(), held.Text())
}

// push1xTo pushes specs to dest, whose server runs ostree-push 1.x.
func push1xTo(o *options, dest transfer.Destination, specs []transfer.PushSpec, repo *store.Repo, stdout, stderr io.Writer, sigs <-chan os.Signal, start time.Time) error {
	if dest.Local {
		return errors.New("a local destination has no ostree-push 1.x server")
	}
	refs, force, err := served1x(repo, specs)
	if err != nil {
		return err
	}
	base, err := o.ssh.Base(dest)
	if err != nil {
		return err
	}
	if !o.Quiet && !o.JSON {
		fmt.Fprintf(stderr, "%s runs ostree-push 1.x: pushing the 1.x way (it pulls from this machine through an ssh tunnel and makes its own commits)\n", dest.Host)
	}
	relay := io.Writer(stderr)
	if o.Quiet || o.JSON {
		relay = nil
	}
	// An interrupt ends the ssh commands: the server's receiver sees its
	// session end.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer cli.OnSignal(sigs, cancel)()
	res, err := push1x.Push(ctx, repo, store.Loader(repo.Lib()), push1x.Options{
		SSH: base, Host: dest.Host, Path: dest.Path, ReceiveCommand: o.receiveCommand,
		Refs: refs, Force: force, DryRun: o.DryRun, Stderr: relay, Verbose: o.Verbose,
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if o.JSON {
		if err := report.WriteJSON(stdout, &res.Push, o.DryRun, elapsed, res.Remote); err != nil {
			return err
		}
	} else if !o.Quiet || !res.Push.OK() {
		report.Write(stderr, &res.Push, reportOptions(o, dest), elapsed)
		for _, r := range res.Push.Refs {
			if made, ok := res.Made[r.Ref.Name]; ok && made != r.New {
				fmt.Fprintf(stderr, "note: the server re-committed %s as %s (ostree-push 1.x makes its own commits: its checksums are not yours)\n", wire.Printable(r.Ref.Name), made.Short())
			}
		}
	}
	if !res.Push.OK() {
		return cli.ErrRejected
	}
	return nil
}

// served1x resolves what to push for a 1.x server: every local ref
// without specs; 1.x deletes nothing and forces every ref of a push or
// none.
func served1x(repo *store.Repo, specs []transfer.PushSpec) ([]httprepo.ServedRef, bool, error) {
	if len(specs) == 0 {
		local, err := repo.Refs()
		if err != nil {
			return nil, false, err
		}
		for _, r := range local {
			if r.Ref.CollectionID == "" {
				specs = append(specs, transfer.PushSpec{Src: r.Commit.String(), Dst: r.Ref})
			}
		}
	}
	var refs []httprepo.ServedRef
	forced := 0
	for _, s := range specs {
		if s.Src == "" {
			return nil, false, fmt.Errorf("ref %s: an ostree-push 1.x server cannot delete refs", wire.Printable(s.Dst.Name))
		}
		c, ok, err := repo.ResolveRev(s.Src)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, fmt.Errorf("%s: no such ref", wire.Printable(s.Src))
		}
		if s.Force {
			forced++
		}
		refs = append(refs, httprepo.ServedRef{Name: s.Dst.Name, Commit: c})
	}
	if forced > 0 && forced < len(specs) {
		return nil, false, cli.Usage(errors.New("an ostree-push 1.x server forces every ref of a push or none: push the forced refs on their own, or use --force"))
	}
	return refs, forced > 0, nil
}
