package push1x

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ostree-push/ostree-push/internal/httprepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Options configure Push.
type Options struct {
	SSH            []string // the ssh program and its options (transfer.SSHBase)
	Host           string
	Path           string // the remote repository
	ReceiveCommand string // run on the server; default "ostree-receive"
	Refs           []httprepo.ServedRef
	Force          bool // 1.x's -f: every ref, even one not newer than the server's
	DryRun         bool // 1.x's -n: the server pulls, and makes no commit
	// Stderr gets the receiver's messages, escaped, a line at a time:
	// those above DEBUG, and all with Verbose; nil: none (Result.Remote
	// has them all the same).
	Stderr  io.Writer
	Verbose bool
}

// Result is what the 1.x server did with each ref.
type Result struct {
	Push transfer.PushResult // as a native push reports it: Old, New (pushed), Status
	// Made maps the refs the server moved to the commits it made of the
	// pushed ones (1.x re-commits); empty in a dry run.
	Made map[string]object.Checksum
	// Remote holds the receiver's messages above DEBUG, escaped.
	Remote []string
}

// masterWait bounds the wait for the ssh master's control socket.
const masterWait = time.Minute

// ssh is the argv of ssh with o's options, then args.
func (o *Options) ssh(args ...string) []string {
	return append(append([]string{}, o.SSH...), args...)
}

// Push pushes refs to a 1.x server: see the package documentation. When
// ctx ends, the ssh commands are ended: the server's receiver sees its
// session end, and nothing moves unless it had already committed.
func Push(ctx context.Context, src transfer.Source, meta walk.Loader, o Options) (*Result, error) {
	for _, r := range o.Refs {
		if r.Commit.IsZero() {
			return nil, fmt.Errorf("ref %s: ostree-push 1.x cannot delete refs", r.Name)
		}
	}
	srv, err := httprepo.Serve(src, meta, o.Refs)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "ostree-push-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "ssh")

	master, err := startMaster(ctx, o, sock)
	if err != nil {
		return nil, err
	}
	defer master.stop(o, sock)

	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
	argv := o.ssh("-S", sock, "-O", "forward", "-R", "0:127.0.0.1:"+port, "--", o.Host)
	fwd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var fwdErr bytes.Buffer
	fwd.Stderr = &fwdErr
	out, err := fwd.Output()
	remotePort, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || perr != nil || remotePort <= 0 || remotePort > 65535 {
		return nil, fmt.Errorf("the ssh tunnel for ostree-push 1.x's protocol was refused (%s): a key with no-port-forwarding, or sshd's AllowTcpForwarding, forbids it", wire.Printable(strings.TrimSpace(fwdErr.String())))
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", remotePort)

	receive := o.ReceiveCommand
	if receive == "" {
		receive = "ostree-receive"
	}
	cmd := receive + " -v"
	if o.DryRun {
		cmd += " -n"
	}
	if o.Force {
		cmd += " -f"
	}
	cmd += " " + transfer.ShellQuote(o.Path) + " " + url
	for _, r := range o.Refs {
		cmd += " " + transfer.ShellQuote(r.Name)
	}
	argv = o.ssh("-S", sock, "--", o.Host, cmd)
	run := exec.CommandContext(ctx, argv[0], argv[1:]...)
	log := newReceiveLog()
	var tail lastLines
	var remote []string
	// The receiver's lines arrive escaped (EscapedLines).
	stderrLines := &transfer.EscapedLines{W: lineFunc(func(s string) {
		log.line(s)
		tail.add(s)
		debug := strings.HasPrefix(s, "DEBUG:")
		if !debug {
			remote = append(remote, s)
		}
		if o.Stderr != nil && (o.Verbose || !debug) {
			fmt.Fprintf(o.Stderr, "remote: %s\n", s)
		}
	})}
	run.Stderr = stderrLines
	var stdoutLines *transfer.EscapedLines
	if o.Verbose && o.Stderr != nil {
		stdoutLines = &transfer.EscapedLines{W: lineFunc(func(s string) { fmt.Fprintf(o.Stderr, "remote: %s\n", s) })}
		run.Stdout = stdoutLines
	}
	err = run.Run()
	stderrLines.Flush()
	if stdoutLines != nil {
		stdoutLines.Flush()
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("the ostree-push 1.x receiver on %s failed (exit status %d): %s", o.Host, exit.ExitCode(), tail.last())
		}
		return nil, err
	}
	res := &Result{Made: log.made, Remote: remote}
	res.Push.RemoteMode = wire.ModeArchive
	res.Push.RemoteAgent = "ostree-push 1.x"
	res.Push.ObjectsSent, res.Push.BytesSent = srv.Served()
	res.Push.DryRun = o.DryRun
	for _, r := range o.Refs {
		out := transfer.RefOutcome{Ref: wire.RefName{Name: r.Name}, Old: log.current[r.Name], New: r.Commit, Forced: log.forced[r.Name]}
		made, moved := log.made[r.Name]
		why, skipped := log.skipped[r.Name]
		switch {
		case moved:
			out.Status = wire.StatusOK
			if made != r.Commit {
				out.Message = "re-committed by the server as " + made.String()
			}
		case log.current[r.Name] == r.Commit:
			out.Status = wire.StatusUpToDate
		case skipped && why == sameContent:
			out.Status = wire.StatusUpToDate
			out.Message = why
		case skipped:
			out.Status = wire.StatusRejected
			out.Message = "skipped by the ostree-push 1.x server: " + why + "; --force pushes it"
		case o.DryRun:
			out.Status = wire.StatusOK
		default:
			out.Status = wire.StatusRejected
			out.Message = "the ostree-push 1.x server did not say what it did with this ref"
		}
		res.Push.Refs = append(res.Push.Refs, out)
	}
	return res, nil
}

// master is the ssh control master the tunnel and the receiver go through.
type master struct {
	cmd  *exec.Cmd
	done chan error
}

func startMaster(ctx context.Context, o Options, sock string) (*master, error) {
	argv := o.ssh("-N", "-M", "-S", sock, "-o", "ControlPersist=no", "--", o.Host)
	m := &master{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	var stderr bytes.Buffer
	m.cmd.Stderr = &stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting ssh: %w", err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	deadline := time.Now().Add(masterWait)
	for {
		if _, err := os.Stat(sock); err == nil {
			return m, nil
		}
		select {
		case err := <-m.done:
			return nil, fmt.Errorf("ssh to %s failed (%v): %s", o.Host, err, wire.Printable(strings.TrimSpace(stderr.String())))
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.cmd.Process.Kill()
			<-m.done
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("ssh to %s: no control socket after %s", o.Host, masterWait)
		}
	}
}

// stop asks the master to exit, and ends it if it does not.
func (m *master) stop(o Options, sock string) {
	argv := o.ssh("-S", sock, "-O", "exit", "--", o.Host)
	exit := exec.Command(argv[0], argv[1:]...)
	exit.Run()
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Signal(syscall.SIGTERM)
		<-m.done
	}
}

// lineFunc takes the lines transfer.EscapedLines writes, one per Write
// ending in a newline, and calls itself with each non-empty one.
type lineFunc func(string)

func (f lineFunc) Write(p []byte) (int, error) {
	if line := strings.TrimSuffix(string(p), "\n"); line != "" {
		f(line)
	}
	return len(p), nil
}

// lastLines keeps the last few lines that are not DEBUG, for an error.
type lastLines struct{ lines []string }

func (l *lastLines) add(s string) {
	if strings.HasPrefix(s, "DEBUG:") {
		return
	}
	l.lines = append(l.lines, s)
	if len(l.lines) > 3 {
		l.lines = l.lines[1:]
	}
}

func (l *lastLines) last() string { return strings.Join(l.lines, " / ") }
