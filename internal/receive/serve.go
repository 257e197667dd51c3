package receive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Options are ostree-receive's command-line settings.
type Options struct {
	ConfigFile string // --config
	Verbose    bool   // -v: log level DEBUG
	Quiet      bool   // -q: log level WARNING
	NoUpdate   bool   // --no-update
	DryRun     bool   // -n
	Force      bool   // -f
	Version    string // for HELLO's agent
	// User is the pusher's identity (--user, which ostree-receive-shell
	// sets from the key's forced command), "" for none: the
	// configuration's users: entry for it applies (see
	// receiveconfig.Config.ForUser), and it is in every log entry and the
	// update_hook's environment.
	User string
	// Legacy: the client speaks version 0, the protocol of the original
	// ostree-push (it ran `ostree-receive --repo=PATH`).
	Legacy bool
	// BeforeRefLock and Fault are the tests' seams (see
	// transfer.ReceiveOptions).
	BeforeRefLock func()
	Fault         transfer.FaultFunc
}

// Serve receives one push into repoArg, speaking the protocol on stdin and
// stdout. Failures before the protocol starts (configuration, root, an
// unopenable repository) are sent to the client as an ERROR frame too
// (version 1; version 0 has no way to say them).
func Serve(opts Options, repoArg string, stdin io.Reader, stdout, stderr io.Writer) error {
	start := time.Now()
	refuse := func(stdout io.Writer, err error) error {
		if !opts.Legacy {
			transfer.SendError(stdout, err.Error())
		}
		return err
	}
	if opts.User != "" && !receiveconfig.ValidUser(opts.User) {
		return refuse(stdout, fmt.Errorf("invalid identity %q (--user)", opts.User))
	}
	cfg, err := receiveconfig.Load(opts.ConfigFile)
	if err != nil {
		return refuse(stdout, err)
	}
	log, err := newLogger(cfg, opts, stderr)
	if err != nil {
		return refuse(stdout, err)
	}
	for _, w := range cfg.Warnings {
		log.Logf(pushlog.Warning, "%s", w)
	}
	for _, f := range cfg.Files {
		log.Logf(pushlog.Debug, "read config %s", f)
	}

	path, err := cfg.ResolveRepo(repoArg)
	if err != nil {
		return refuse(stdout, err)
	}
	// The identity's rights, before anything is read from the client.
	user, err := forUser(cfg, log, opts, path, start)
	if err != nil {
		return refuse(stdout, err)
	}
	settings := cfg.ForRepo(path)
	if opts.NoUpdate {
		settings.Update = receiveconfig.UpdateNo
	}
	if opts.DryRun {
		settings.DryRun = true
	}
	if opts.Force {
		settings.Force = true
	}
	repo, err := store.Open(path)
	if err != nil {
		return refuse(stdout, err)
	}
	defer repo.Close()
	repo.StagingMaxAge = settings.StagingMaxAge
	repo.LockTimeout = settings.LockTimeout
	repo.Fault = opts.Fault
	repo.Logf = func(format string, args ...any) { log.Logf(pushlog.Warning, format, args...) }

	srv := &server{settings: settings, user: user, identity: opts.User, repo: repo, log: log, path: path}
	policy, err := srv.policy()
	if err != nil {
		return refuse(stdout, err)
	}
	defer srv.close()
	// The client's stdout, unwatched: an ERROR from a watchdog goes
	// there, at most for a second (see tellAndExit).
	rawOut := stdout
	tell := func(msg string) func() {
		return func() {
			// Version 0 has no such frame.
			if !opts.Legacy {
				transfer.SendError(rawOut, msg)
			}
		}
	}
	// giveUp ends a push a watchdog stopped: logged, its staging left
	// as an interrupted push's, the client told if it still listens.
	giveUp := func(msg string) {
		log.Logf(pushlog.Error, "%s", msg)
		repo.LeaveStaging()
		tellAndExit(tell(msg))
	}
	if d := settings.IdleTimeout; d > 0 {
		sw := newStallWatch(d, func(writing bool, stalled time.Duration) {
			msg := fmt.Sprintf("idle timeout: no data from the client for %s (idle_timeout %s); giving up, nothing was changed", stalled.Round(time.Millisecond), d)
			if writing {
				msg = fmt.Sprintf("idle timeout: the client stopped reading: a write to it has been blocked for %s (idle_timeout %s); giving up", stalled.Round(time.Millisecond), d)
			}
			// The client is told too, if it still listens: the
			// receiver is blocked reading (it flushes before every read
			// that can wait) or writing, so no frame is half written
			// but the one a blocked write holds, and then nobody reads.
			giveUp(msg)
		})
		defer sw.Close()
		stdin, stdout = sw.Reader(stdin), sw.Writer(stdout)
	}
	if d := settings.MaxPushDuration; d > 0 {
		t := time.AfterFunc(d, func() {
			giveUp(fmt.Sprintf("the push has run for %s, the server's max_push_duration; giving up", d))
		})
		defer t.Stop()
	}
	var notices []string
	if stale := srv.staleSummary(); stale != "" {
		msg := "warning: the summary is stale: an earlier push failed to update it (" + stale + "); the next push that moves a ref retries"
		log.Logf(pushlog.Warning, "%s", msg)
		notices = append(notices, msg)
	}
	maxObject, maxObjectRule := srv.maxObjectSize()
	ropts := transfer.ReceiveOptions{
		Notices:           notices,
		Agent:             "ostree-receive/" + opts.Version,
		MaxObjectSize:     maxObject,
		MaxObjectSizeRule: maxObjectRule,
		Logf:              func(f string, a ...any) { log.Logf(pushlog.Debug, f, a...) },
		BeforeRefLock:     opts.BeforeRefLock,
		Policy:            policy,
		Fault:             opts.Fault,
	}
	receive := transfer.Receive
	if opts.Legacy {
		receive = transfer.ReceiveV0
	}
	res, rerr := receive(stdin, stdout, repo, ropts)
	if res != nil {
		for _, n := range res.Notes {
			log.Logf(pushlog.Info, "%s", n)
		}
	}
	rec := record(path, res, rerr, time.Since(start))
	rec.User = opts.User
	rec.Pruned = srv.pruned
	log.Push(rec)
	if rerr == nil {
		// A refused ref fails the push (nothing moved): the client has
		// been told in RESULT, and the exit status says it too, for the
		// server's own logs and wrappers. A version-0 client hears nothing
		// after DONE: for it the exit status (which ssh passes on) is the
		// only word.
		for _, r := range res.Refs {
			if !r.Status.Success() {
				return fmt.Errorf("ref %s was not updated: %s: %s", wire.Printable(r.Ref.String()), r.Status, r.Message)
			}
		}
	}
	return rerr
}

// record is the log entry of one push.
func record(path string, res *transfer.ReceiveResult, err error, d time.Duration) pushlog.PushRecord {
	rec := pushlog.PushRecord{Client: client(), Repo: path, Duration: d, Result: "ok"}
	if err != nil {
		rec.Result = "error: " + err.Error()
		return rec
	}
	rec.Objects, rec.Bytes = res.ObjectsWritten, res.BytesWritten
	for i, r := range res.Refs {
		u := res.Updates[i]
		status := r.Status.String()
		if r.Metadata {
			status += ", signatures updated"
		}
		rec.Refs = append(rec.Refs, pushlog.RefRecord{Ref: r.Ref.String(), Old: u.Old.Short(), New: u.New.Short(),
			Status: status, Message: r.Message})
		if !r.Status.Success() {
			rec.Result = "rejected"
		}
	}
	if res.DryRun && rec.Result == "ok" {
		rec.Result = "ok (dry run)"
	}
	return rec
}

// newLogger is the log of one push: at cfg's level, or opts', with the
// pusher's identity on every entry.
func newLogger(cfg *receiveconfig.Config, opts Options, stderr io.Writer) (*pushlog.Logger, error) {
	level := cfg.LogLevel
	switch {
	case opts.Verbose:
		level = "DEBUG"
	case opts.Quiet:
		level = "WARNING"
	}
	lvl, err := pushlog.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	log := pushlog.New(stderr, lvl, os.Getenv("OSTREE_RECEIVE_LOG_STDERR") != "")
	log.SetUser(opts.User)
	return log, nil
}

// forUser returns the rules of the pusher's identity for the repository
// at path (nil without users:), or its refusal, logged as the push's
// record.
func forUser(cfg *receiveconfig.Config, log *pushlog.Logger, opts Options, path string, start time.Time) (*receiveconfig.User, error) {
	user, err := cfg.ForUser(opts.User, path)
	if err != nil {
		rec := record(path, nil, err, time.Since(start))
		rec.User = opts.User
		log.Push(rec)
		return nil, err
	}
	if user != nil {
		name := opts.User
		if name == "" {
			name = "(none)"
		}
		log.Logf(pushlog.Debug, "identity %s: the rules of users.%s", name, user.Entry)
	}
	return user, nil
}

// checkUser refuses, as Serve would and logged as Serve logs it, an
// identity that may not push to repoArg: for a 1.x client, before the
// receiver reads the client's repository. Other errors are left to Serve
// to report.
func checkUser(opts Options, repoArg string, stderr io.Writer) error {
	if opts.User != "" && !receiveconfig.ValidUser(opts.User) {
		return fmt.Errorf("invalid identity %q (--user)", opts.User)
	}
	start := time.Now()
	cfg, err := receiveconfig.Load(opts.ConfigFile)
	if err != nil || !cfg.UsersSet {
		return nil
	}
	path, err := cfg.ResolveRepo(repoArg)
	if err != nil {
		return nil
	}
	log, err := newLogger(cfg, opts, stderr)
	if err != nil {
		return nil
	}
	_, err = forUser(cfg, log, opts, path, start)
	return err
}

// client names the pusher from $SSH_CLIENT ("ADDRESS PORT LOCALPORT").
func client() string {
	if f := strings.Fields(os.Getenv("SSH_CLIENT")); len(f) > 0 {
		return f[0]
	}
	return "local"
}

// errNoKeys is returned when verification is on but no trusted key exists.
var errNoKeys = errors.New("no trusted keys")

func wrapf(err error, format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, err)...)
}
