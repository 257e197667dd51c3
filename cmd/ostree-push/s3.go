package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testhooks"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// s3Flags are the options of a publish to s3://BUCKET[/PREFIX].
type s3Flags struct {
	endpoint      string
	region        string
	profile       string
	pathStyle     bool
	jobs          int
	retries       int
	unconditional bool
	cacheObjects  string
	cacheMutable  string
	afterPublish  string
	gpgSign       []string
	gpgHomedir    string
	signKeyfiles  []string
}

func (f *s3Flags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "for s3:// destinations: the URL of an S3-compatible store (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS)")
	fs.StringVar(&f.region, "s3-region", "", "for s3:// destinations: the region (default: AWS_REGION, the profile's)")
	fs.StringVar(&f.profile, "s3-profile", "", "for s3:// destinations: the profile of the shared AWS config and credentials files (default: AWS_PROFILE, else default)")
	fs.BoolVar(&f.pathStyle, "s3-path-style", false, "for s3:// destinations: address the bucket in the URL's path, not its host name (most S3-compatible stores)")
	fs.IntVar(&f.jobs, "s3-jobs", publish.DefaultJobs, "for s3:// destinations: requests at once")
	fs.IntVar(&f.retries, "s3-retries", 4, "for s3:// destinations: retries of a failed request, with backoff")
	fs.BoolVar(&f.unconditional, "s3-unconditional", false, "publish to a store that ignores conditional writes (If-Match, If-None-Match), without which refs are not moved by compare-and-swap: a concurrent publisher's update can be lost")
	fs.StringVar(&f.cacheObjects, "s3-cache-objects", publish.DefaultCacheObjects, "Cache-Control of the objects written to s3:// ('-': none)")
	fs.StringVar(&f.cacheMutable, "s3-cache-mutable", publish.DefaultCacheMutable, "Cache-Control of the refs, summary, summary.sig, config and detached metadata written to s3:// ('-': none)")
	fs.StringArrayVar(&f.gpgSign, "sign-summary-gpg", nil, "for s3:// destinations: sign the summary with this GPG key (repeatable), into summary.sig")
	fs.StringVar(&f.gpgHomedir, "gpg-homedir", "", "GnuPG home directory of the --sign-summary-gpg keys (default: GnuPG's)")
	fs.StringArrayVar(&f.signKeyfiles, "sign-summary-ed25519", nil, "for s3:// destinations: sign the summary with the ed25519 secret keys of this file (base64, one a line, as ostree sign --keys-file reads; repeatable), into summary.sig")
	fs.StringVar(&f.afterPublish, "after-publish", "", "after a publish to s3:// that changed something, run this command (by sh -c) with the keys of the files changed as arguments, the bucket's URL in OSTREE_PUSH_S3_URL: to purge a CDN, say")
}

// publishS3 publishes to the bucket at url.
func publishS3(o *options, url string, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	loc, err := bucket.ParseURL(url)
	if err != nil {
		return cli.Usage(err)
	}
	specs, _, repo, err := setup(o, args)
	if err != nil {
		return err
	}
	defer repo.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer interruptible(sigs, cancel, stderr)()
	start := time.Now()
	prog := newProgress(stderr, o.showProgress())
	res, err := publishTo(ctx, o, loc, specs, repo, prog, prog.update, stdout, stderr)
	prog.done()
	if res == nil || len(res.Refs) == 0 {
		return err // it failed before judging any ref
	}
	// The refs' outcomes are told also when the publish failed after
	// judging them: which moved, which were put back.
	elapsed := time.Since(start)
	if o.JSON {
		if jerr := report.WriteJSON(stdout, &res.PushResult, o.DryRun, elapsed, nil); jerr != nil && err == nil {
			return jerr
		}
	} else if !o.Quiet || !res.OK() || err != nil {
		report.Write(stderr, &res.PushResult, s3ReportOptions(o, loc), elapsed)
	}
	if err != nil {
		return err
	}
	if !res.OK() {
		return cli.ErrRejected
	}
	return nil
}

func s3ReportOptions(o *options, loc bucket.Location) report.Options {
	return report.Options{
		Header: "To " + loc.String(), Verb: "uploaded", DryRun: o.DryRun, Quiet: o.Quiet,
		Hint: "in the bucket is not an ancestor of what you pushed; use --force (or +REF) to overwrite it",
	}
}

// publishTo publishes specs from repo to the bucket at loc, then runs the
// --after-publish command when something changed. -v's details go to
// prog; update, when not nil, gets the upload's progress.
func publishTo(ctx context.Context, o *options, loc bucket.Location, specs []transfer.PushSpec, repo *store.Repo,
	prog *progress, update func(transfer.PushProgress), stdout, stderr io.Writer) (*publish.Result, error) {
	b, err := bucket.Open(ctx, loc, bucket.Options{
		Profile: o.s3.profile, Region: o.s3.region, Endpoint: o.s3.endpoint,
		PathStyle: o.s3.pathStyle, Jobs: o.s3.jobs, Retries: o.s3.retries,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	signer, err := summarySigner(&o.s3, repo)
	if err != nil {
		return nil, err
	}
	popts := publish.Options{
		Specs: specs, DryRun: o.DryRun, Jobs: o.s3.jobs, Unconditional: o.s3.unconditional,
		CacheObjects: o.s3.cacheObjects, CacheMutable: o.s3.cacheMutable,
		Progress:    update,
		Fault:       testhooks.PublishFault(),
		SignSummary: signer,
	}
	if o.Verbose && !o.JSON {
		popts.Logf = func(f string, a ...any) { prog.println(wire.Printable(loc.String() + ": " + fmt.Sprintf(f, a...))) }
	}
	res, err := publish.Publish(ctx, repo, b, popts)
	if o.Verbose && !o.JSON && res != nil {
		prog.println(fmt.Sprintf("%s: %s", loc, res.Requests))
	}
	if err != nil {
		err = fmt.Errorf("%s: %s", loc, wire.Printable(err.Error()))
	}
	// Whatever changed is purged, also when the publish failed after
	// changing something (refs moved, the summary not written).
	if res != nil && len(res.Changed) > 0 && o.s3.afterPublish != "" && !o.DryRun {
		if herr := runAfterPublish(o.s3.afterPublish, loc, res.Changed, stderr); herr != nil && err == nil {
			err = herr
		}
	}
	return res, err
}

// interruptible cancels the publish at the first interrupt, whose
// clean-up requests are bounded (bucket.CleanupTimeout); a second one
// exits at once. Call the returned function when done.
func interruptible(sigs <-chan os.Signal, cancel func(), stderr io.Writer) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "ostree-push: interrupted again: exiting without cleaning up")
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { close(done) }
}

// runAfterPublish runs the --after-publish command, its output to standard
// error (as git runs hooks: standard output is --json's).
func runAfterPublish(command string, loc bucket.Location, changed []string, stderr io.Writer) error {
	keys := make([]string, len(changed))
	for i, k := range changed {
		keys[i] = k
		if loc.Prefix != "" {
			keys[i] = loc.Prefix + "/" + k
		}
	}
	cmd := exec.Command("sh", append([]string{"-c", command, "ostree-push-after-publish"}, keys...)...)
	cmd.Env = append(os.Environ(), "OSTREE_PUSH_S3_URL="+loc.String())
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("--after-publish %s: %v", strings.TrimSpace(command), err)
	}
	return nil
}

// summarySigner signs a summary with the keys of the flags, or is nil when
// there are none: GPG signatures made by libostree (which needs a
// repository: the local one), ed25519 ones here (pkg/sign), together in
// one summary.sig.
func summarySigner(f *s3Flags, repo *store.Repo) (func([]byte) ([]byte, error), error) {
	var keys []ed25519.PrivateKey
	for _, path := range f.signKeyfiles {
		k, err := sign.LoadEd25519SecretKeys(path)
		if err != nil {
			return nil, fmt.Errorf("--sign-summary-ed25519: %w", err)
		}
		keys = append(keys, k...)
	}
	if len(f.gpgSign) == 0 && len(keys) == 0 {
		return nil, nil
	}
	return func(summary []byte) ([]byte, error) {
		var sig []byte
		if len(f.gpgSign) > 0 {
			var err error
			if sig, err = repo.Lib().GPGSignData(summary, f.gpgSign, f.gpgHomedir); err != nil {
				return nil, err
			}
		}
		if len(keys) > 0 {
			var sigs [][]byte
			for _, k := range keys {
				sigs = append(sigs, sign.SignEd25519(k, summary))
			}
			return sign.SetDetachedSignatures(sig, sign.MetadataKeyEd25519, sigs)
		}
		return sig, nil
	}, nil
}
