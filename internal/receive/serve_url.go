package receive

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/internal/httprepo"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The receiver of an ostree-push 1.x client: `ostree-receive REPO URL
// [REF...]`, where URL is the client's repository, served on its own
// 127.0.0.1 and tunnelled to the server's loopback by ssh -R. 1.x pulled
// from it with libostree and re-committed each commit; this receiver runs
// the send engine of a native push on the served repository, in this
// process, into Serve through a pipe: the client's objects go through the
// same receive core and policy as a native push's (limits, signatures,
// ref rules, hooks, summary, log), all refs or none, and keep their
// checksums.

// CheckPullURL checks a 1.x client's URL: http on a loopback address, the
// server's end of the client's tunnel. Anything else would let a client
// make the server fetch from elsewhere on its network.
func CheckPullURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("URL %s: want http://127.0.0.1:PORT, the end of an ostree-push 1.x client's tunnel", wire.Printable(raw))
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("URL %s: only a loopback address is pulled from (the end of an ostree-push 1.x client's tunnel)", wire.Printable(raw))
	}
	return nil
}

// ServeURL serves an ostree-push 1.x client: it pulls refs (every ref of
// the served summary but the generated ones when none is named) from the
// repository at rawURL into repoArg. opts.Force is the client's -f: it
// forces the refs it names. The report goes to stderr, which the client
// shows.
func ServeURL(opts Options, repoArg, rawURL string, refs []string, stdout, stderr io.Writer) error {
	start := time.Now()
	if err := CheckPullURL(rawURL); err != nil {
		return err
	}
	if err := checkUser(opts, repoArg, stderr); err != nil {
		return err
	}
	if err := checkOwnTunnel(urlPort(rawURL)); err != nil {
		return fmt.Errorf("URL %s: %w", wire.Printable(rawURL), err)
	}
	src, err := httprepo.Open(rawURL, httprepo.Options{})
	if err != nil {
		return fmt.Errorf("reading the client's repository: %w", err)
	}
	specs, err := pullSpecs(src, refs, opts.Force)
	if err != nil {
		return err
	}
	serveOpts := opts
	serveOpts.Force = false  // the client's -f forces its refs: specs
	serveOpts.DryRun = false // the client's -n is its push's dry run
	// Kernel pipes, as between ssh and a receiver: each side can write a
	// message (an ERROR, say) while the other is busy writing its own.
	c2sR, c2sW, err := os.Pipe()
	if err != nil {
		return err
	}
	s2cR, s2cW, err := os.Pipe()
	if err != nil {
		c2sR.Close()
		c2sW.Close()
		return err
	}
	served := make(chan error, 1)
	go func() {
		err := Serve(serveOpts, repoArg, c2sR, s2cW, stderr)
		s2cW.Close()
		c2sR.Close()
		served <- err
	}()
	res, perr := transfer.Push(s2cR, c2sW, src, transfer.PushOptions{
		Specs:  specs,
		DryRun: opts.DryRun,
		Agent:  "ostree-receive/" + opts.Version + " (for an ostree-push 1.x client)",
		Remote: func(msg string) { fmt.Fprintf(stderr, "remote: %s\n", wire.Printable(msg)) },
	})
	c2sW.Close()
	s2cR.Close()
	serr := <-served
	if res != nil {
		report.Write(stderr, res, report.Options{
			Header: "From the ostree-push 1.x client into " + repoArg,
			Verb:   "received",
			Quiet:  opts.Quiet,
			DryRun: opts.DryRun,
			Hint:   "is not a fast-forward of the server's ref; ostree-push 1.x cannot force it (the server's force: yes can, or --force of this ostree-push, the Go one)",
		}, time.Since(start))
	}
	switch {
	case serr != nil:
		// Serve's own error says it best (the push's would be the
		// ERROR it sent, or the pipe it closed).
		return serr
	case perr != nil:
		return fmt.Errorf("pulling from the client's repository: %w", perr)
	case !res.OK():
		return errors.New("not every ref was updated")
	}
	return nil
}

// urlPort is the port of a URL CheckPullURL accepted (80 when it has none).
func urlPort(raw string) int {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	return 80
}

// pullSpecs is what to pull: the refs named, or every ref the client's
// summary lists but those its server generates (appstream/*, appstream2/*,
// ostree-metadata), which 1.x left out too.
func pullSpecs(src *httprepo.Source, refs []string, force bool) ([]transfer.PushSpec, error) {
	if len(refs) == 0 {
		all, err := src.Refs()
		if err != nil {
			return nil, err
		}
		for _, r := range all {
			if !generated(r.Ref.Name) {
				refs = append(refs, r.Ref.Name)
			}
		}
		if len(refs) == 0 {
			return nil, errors.New("the client's repository has no refs to pull")
		}
	}
	seen := map[string]bool{}
	var specs []transfer.PushSpec
	for _, r := range refs {
		if seen[r] {
			continue
		}
		seen[r] = true
		c, ok, err := src.LookupRef(r)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("ref %s is not in the client's repository", wire.Printable(r))
		}
		// By checksum: what was looked up is what is pushed.
		specs = append(specs, transfer.PushSpec{Src: c.String(), Dst: wire.RefName{Name: r}, Force: force})
	}
	return specs, nil
}

func generated(ref string) bool {
	return ref == "ostree-metadata" || strings.HasPrefix(ref, "appstream/") || strings.HasPrefix(ref, "appstream2/")
}
