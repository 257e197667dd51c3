package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Destination is where a push goes: a repository path on an ssh host, or a
// local path.
type Destination struct {
	Local bool
	User  string // ssh only; "" for ssh's default
	Host  string // ssh only
	Port  string // ssh only; "" for ssh's default
	Path  string
}

// String gives the destination back in the form a user would type.
func (d Destination) String() string {
	if d.Local {
		return d.Path
	}
	host := d.Host
	if d.User != "" {
		host = d.User + "@" + host
	}
	if d.Port != "" {
		return "ssh://" + host + ":" + d.Port + d.Path
	}
	return host + ":" + d.Path
}

// ParseDestination parses DEST as ostree-push takes it:
//
//	[user@]host:PATH               scp-like; a ':' before any '/'
//	ssh://[user@]host[:port]/PATH  URL form
//	file://PATH or a plain path    local, no ssh
func ParseDestination(s string) (Destination, error) {
	switch {
	case s == "":
		return Destination{}, errors.New("empty destination")
	case strings.HasPrefix(s, "ssh://"):
		u, err := url.Parse(s)
		if err != nil {
			return Destination{}, fmt.Errorf("destination %q: %v", s, err)
		}
		d := Destination{Host: u.Hostname(), Port: u.Port(), Path: u.Path}
		if u.User != nil {
			d.User = u.User.Username()
		}
		if d.Host == "" {
			return Destination{}, fmt.Errorf("destination %q has no host", s)
		}
		if d.Path == "" || d.Path == "/" {
			return Destination{}, fmt.Errorf("destination %q has no repository path", s)
		}
		// ssh://host/~/repo means a path under the remote home, as in git.
		if strings.HasPrefix(d.Path, "/~") {
			d.Path = d.Path[1:]
		}
		return d, checkSSH(s, d)
	case strings.HasPrefix(s, "file://"):
		p := strings.TrimPrefix(s, "file://")
		if p == "" {
			return Destination{}, fmt.Errorf("destination %q has no path", s)
		}
		return Destination{Local: true, Path: p}, nil
	}
	colon := strings.IndexByte(s, ':')
	slash := strings.IndexByte(s, '/')
	if colon > 0 && (slash < 0 || colon < slash) {
		host, path := s[:colon], s[colon+1:]
		d := Destination{Host: host, Path: path}
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			d.User, d.Host = host[:at], host[at+1:]
		}
		if d.Path == "" {
			return Destination{}, fmt.Errorf("destination %q has no repository path after ':'", s)
		}
		return d, checkSSH(s, d)
	}
	return Destination{Local: true, Path: s}, nil
}

func checkSSH(s string, d Destination) error {
	if d.Host == "" || strings.HasPrefix(d.Host, "-") || strings.HasPrefix(d.User, "-") {
		return fmt.Errorf("destination %q: invalid host", s)
	}
	return nil
}

// SSHOptions are the ssh settings of a push.
type SSHOptions struct {
	Command        []string // the ssh program and its own arguments; default ["ssh"]
	Port           string   // -p
	Identity       string   // -i
	Options        []string // -o, each as given
	ReceiveCommand string   // run remotely; default "ostree-receive"; may carry arguments
}

// SSHArgs builds the argv that starts the receiver for d over ssh. The
// receive command is passed to the remote shell as written (so it may
// carry its own arguments); the repository path is appended shell-quoted.
func SSHArgs(d Destination, o SSHOptions) []string {
	return append(SSHBase(d, o), "--", d.Host, RemoteCommand(o.ReceiveCommand, d.Path))
}

// SSHBase is the ssh program and its options for d, without the host and
// the remote command: SSHArgs appends "--", the host and the command.
func SSHBase(d Destination, o SSHOptions) []string {
	argv := append([]string{}, o.Command...)
	if len(argv) == 0 {
		argv = []string{"ssh"}
	}
	port := d.Port
	if port == "" {
		port = o.Port
	}
	if port != "" {
		argv = append(argv, "-p", port)
	}
	if o.Identity != "" {
		argv = append(argv, "-i", o.Identity)
	}
	for _, opt := range o.Options {
		argv = append(argv, "-o", opt)
	}
	if d.User != "" {
		argv = append(argv, "-l", d.User)
	}
	return argv
}

// RemoteCommand is the command line the remote shell runs.
func RemoteCommand(receive, path string) string {
	if receive == "" {
		receive = "ostree-receive"
	}
	return receive + " " + ShellQuote(path)
}

// ShellQuote quotes s for a POSIX shell. A leading "~/" stays unquoted so
// the remote shell expands it to the home directory.
func ShellQuote(s string) string {
	prefix := ""
	if strings.HasPrefix(s, "~/") {
		prefix, s = "~/", s[2:]
	}
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+,:@%") == "" {
		return prefix + s
	}
	return prefix + "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SplitCommand splits a command line the way a POSIX shell splits words:
// whitespace separates, single quotes keep everything, double quotes keep
// all but backslash escapes of " \ $ `, and a backslash escapes the next
// character outside quotes. Expansions are not performed.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// CommandConn runs a receiver (ssh, or ostree-receive itself for a local
// destination) and is the connection to it: reads come from its stdout,
// writes go to its stdin. Its stderr is passed on a line at a time, each
// line escaped (see EscapedLines).
type CommandConn struct {
	cmd      *exec.Cmd
	received atomic.Int64  // bytes read from the child's stdout
	printed  *atomic.Int64 // bytes the child wrote to its stderr
	stdin    io.WriteCloser
	stdout   io.ReadCloser
	once     sync.Once
	outOnce  sync.Once
	done     chan struct{}
	err      error
}

// PipeSize is what GrowPipe asks for: Linux's largest for an unprivileged
// process (fs.pipe-max-size), sixteen times the default 64 KiB.
const PipeSize = 1 << 20

// GrowPipe grows the kernel buffer of f, when it is a pipe, to PipeSize,
// as far as the system allows; ostree-receive grows its stdin. With the
// default 64 KiB, sshd, which writes what it receives into that pipe,
// moves its channel buffer down after each short write: 1.4 s of its CPU
// per 130 MB, 0.5 s with 1 MiB, and a fresh push of 110 MiB over a
// loopback ssh took a tenth less time. Past the account's pipe quota
// (fs.pipe-user-pages-soft, 64 MiB by default: about 64 receivers at once)
// nothing happens, and while an account holds that much Linux makes its
// new pipes 8 KiB. What the pipe holds is lost when the connection is cut
// (--retry resends it).
func GrowPipe(f *os.File) {
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	if sc, err := f.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, PipeSize)
		})
	}
}

// StartCommand starts argv with its stdin and stdout as the connection.
func StartCommand(argv []string, stderr io.Writer) (*CommandConn, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// What the remote says reaches a terminal: escaped, never raw.
	var errText *EscapedLines
	printed := new(atomic.Int64)
	if stderr != nil {
		errText = &EscapedLines{W: stderr}
		cmd.Stderr = countWrites{errText, printed}
		// A process ssh leaves behind (a ControlPersist master) may hold
		// the stderr pipe open: Wait does not wait for it past this.
		cmd.WaitDelay = stderrWaitDelay
	}
	// Its own process group: a ^C at the terminal reaches ostree-push,
	// which then ends the child itself, in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Our own pipes, not cmd.StdinPipe and cmd.StdoutPipe: Wait, which
	// runs as soon as the child exits, closes the pipes those made, and
	// what the child wrote last (the RESULT) would be lost if not yet read
	// ("read |0: file already closed"). The one objects go down keeps
	// its default size: growing it showed no gain (the receiver's end is
	// what matters, see GrowPipe) and a cut connection loses what the
	// pipes hold (TestRetry: --retry resends it).
	childIn, stdin, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stdout, childOut, err := os.Pipe()
	if err != nil {
		childIn.Close()
		stdin.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout = childIn, childOut
	err = cmd.Start()
	childIn.Close() // the child has its own copies: EOF and EPIPE when it exits
	childOut.Close()
	if err != nil {
		stdin.Close()
		stdout.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	c := &CommandConn{cmd: cmd, stdin: stdin, stdout: stdout, printed: printed, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		if errors.Is(c.err, exec.ErrWaitDelay) {
			c.err = nil // it exited with 0; only its stderr was held open
		}
		if errText != nil {
			errText.Flush()
		}
		close(c.done)
	}()
	return c, nil
}

func (c *CommandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	c.received.Add(int64(n))
	return n, err
}

// Received is how many bytes the child has sent: none means the other
// side never spoke (over ssh: ssh itself failed, or what it ran printed
// nothing).
func (c *CommandConn) Received() int64 { return c.received.Load() }

// Printed is how many bytes the child has written to its standard error.
func (c *CommandConn) Printed() int64 { return c.printed.Load() }

// countWrites counts the bytes written through it.
type countWrites struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWrites) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}
func (c *CommandConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// CloseWrite closes the child's stdin: the receiver sees end of input.
func (c *CommandConn) CloseWrite() error { return c.stdin.Close() }

// Close closes stdin and waits for the child to exit, up to timeout; then
// it kills it. It closes the child's stdout too (nothing may read it any
// more) and returns the child's exit error.
func (c *CommandConn) Close(timeout time.Duration) error {
	c.once.Do(func() { c.stdin.Close() })
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
	}
	c.outOnce.Do(func() { c.stdout.Close() })
	return c.err
}

// Kill ends the child at once (for an interrupted push).
func (c *CommandConn) Kill() {
	if c.cmd.Process != nil {
		c.cmd.Process.Signal(os.Kill)
	}
}

// stderrWaitDelay is how long a CommandConn waits, once its child has
// exited, for the child's stderr to reach end of file.
const stderrWaitDelay = 2 * time.Second

// maxErrLine is the longest line EscapedLines holds; a longer one is cut
// there.
const maxErrLine = 16 << 10

// EscapedLines writes what is written to it on to W a line at a time, each
// line through Printable: a peer's standard error (the remote
// ostree-receive, sshd's messages, whatever runs there) cannot move the
// cursor, erase a line or retitle the terminal. "\r\n" ends a line as "\n"
// does; a line longer than 16 KiB is cut. Flush writes a last line that has
// no newline. It is for one writer at a time (exec's copy of a child's
// stderr).
type EscapedLines struct {
	W   io.Writer
	buf []byte
}

func (e *EscapedLines) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			break
		}
		if err := e.emit(e.buf[:i]); err != nil {
			return len(p), err
		}
		e.buf = e.buf[i+1:]
	}
	for len(e.buf) >= maxErrLine {
		if err := e.emit(e.buf[:maxErrLine]); err != nil {
			return len(p), err
		}
		e.buf = e.buf[maxErrLine:]
	}
	// Keep the held bytes in a buffer of their own: e.buf's array would
	// otherwise grow with everything ever written.
	e.buf = append([]byte(nil), e.buf...)
	return len(p), nil
}

// Flush writes what is left of an unfinished line.
func (e *EscapedLines) Flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	err := e.emit(e.buf)
	e.buf = nil
	return err
}

func (e *EscapedLines) emit(line []byte) error {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	_, err := io.WriteString(e.W, wire.Printable(string(line))+"\n")
	return err
}
