package systemd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// busConfig is a dbus-daemon configuration that listens on one socket and
// lets every local connection send, receive and own anything.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus starts a private dbus-daemon in a temporary directory and
// returns its address. The daemon is killed, by its pid, at cleanup.
func startBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dbus-daemon is required under CI=true (ci/setup installs the dbus-daemon package): %v", err)
		}
		t.Skipf("no dbus-daemon (apt-get install dbus-daemon), so no private bus: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	sock := filepath.Join(dir, "bus")
	if err := os.WriteFile(conf, []byte(strings.Replace(busConfig, "SOCKET", sock, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--nosyslog", "--print-address=1")
	// Its stderr (such as "Failed to set fd limit" when not allowed to)
	// is shown only when the test fails.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("dbus-daemon's stderr:\n%s", stderr.String())
		}
	})
	// dbus-daemon prints its address once it listens.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if !strings.HasPrefix(addr, "unix:path="+sock) {
			t.Fatalf("dbus-daemon printed address %q, want unix:path=%s...", addr, sock)
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not print its address within 10s")
	}
	return ""
}

// recordedCall is one method call the stand-in received.
type recordedCall struct {
	Destination, Path, Interface, Member, Signature string
	Args                                            []any
}

// standIn plays systemd's manager on the private bus.
type standIn struct {
	mu    sync.Mutex
	calls []recordedCall

	job        godbus.ObjectPath // StartUnit's reply
	err        *godbus.Error     // else this error
	jobRemoved bool              // emit JobRemoved before replying
	block      chan struct{}     // when not nil, StartUnit waits for it to close
	conn       *godbus.Conn
}

// StartUnit is org.freedesktop.systemd1.Manager.StartUnit(s name, s mode) -> o job.
func (m *standIn) StartUnit(name, mode string) (godbus.ObjectPath, *godbus.Error) {
	if m.block != nil {
		<-m.block
	}
	if m.err != nil {
		return "", m.err
	}
	if m.jobRemoved {
		_ = m.conn.Emit("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager.JobRemoved",
			uint32(42), m.job, name, "done")
	}
	return m.job, nil
}

// Subscribe is org.freedesktop.systemd1.Manager.Subscribe(). go-systemd
// calls it only from its Subscribe* methods, which this package does not
// use; the test checks that it is not called.
func (m *standIn) Subscribe() *godbus.Error { return nil }

func (m *standIn) recorded() []recordedCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]recordedCall(nil), m.calls...)
}

// startStandIn connects to the bus at addr, owns org.freedesktop.systemd1
// and exports m at /org/freedesktop/systemd1. Every method call the
// connection receives is recorded, whatever its destination or path.
func startStandIn(t *testing.T, addr string, m *standIn) {
	t.Helper()
	record := func(msg *godbus.Message) {
		if msg.Type != godbus.TypeMethodCall {
			return
		}
		str := func(f godbus.HeaderField) string {
			v, ok := msg.Headers[f]
			if !ok {
				return ""
			}
			switch x := v.Value().(type) {
			case string:
				return x
			case godbus.ObjectPath:
				return string(x)
			case godbus.Signature:
				return x.String()
			}
			return ""
		}
		m.mu.Lock()
		m.calls = append(m.calls, recordedCall{
			Destination: str(godbus.FieldDestination), Path: str(godbus.FieldPath),
			Interface: str(godbus.FieldInterface), Member: str(godbus.FieldMember),
			Signature: str(godbus.FieldSignature), Args: msg.Body,
		})
		m.mu.Unlock()
	}
	conn, err := godbus.Connect(addr, godbus.WithIncomingInterceptor(record))
	if err != nil {
		t.Fatalf("stand-in: connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	m.conn = conn
	if err := conn.Export(m, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.systemd1", godbus.NameFlagDoNotQueue)
	if err != nil || reply != godbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("stand-in: RequestName org.freedesktop.systemd1: reply %v, %v", reply, err)
	}
}

func connect(t *testing.T, ctx context.Context, addr string) *Conn {
	t.Helper()
	c, err := Connect(ctx, addr)
	if err != nil {
		t.Fatalf("Connect(%s): %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

const testUnit = "ostree-repo-update@srv-repo.service"

func TestStartUnit(t *testing.T) {
	for _, jobRemoved := range []bool{false, true} {
		name := "job never finishes"
		if jobRemoved {
			name = "JobRemoved before the reply"
		}
		t.Run(name, func(t *testing.T) {
			addr := startBus(t)
			m := &standIn{job: "/org/freedesktop/systemd1/job/42", jobRemoved: jobRemoved}
			startStandIn(t, addr, m)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			job, err := StartUnit(ctx, connect(t, ctx, addr), testUnit)
			if err != nil {
				t.Fatalf("StartUnit: %v", err)
			}
			if job != "/org/freedesktop/systemd1/job/42" {
				t.Errorf("job = %q, want /org/freedesktop/systemd1/job/42", job)
			}
			want := []recordedCall{{
				Destination: "org.freedesktop.systemd1",
				Path:        "/org/freedesktop/systemd1",
				Interface:   "org.freedesktop.systemd1.Manager",
				Member:      "StartUnit",
				Signature:   "ss",
				Args:        []any{testUnit, "replace"},
			}}
			if got := m.recorded(); !reflect.DeepEqual(got, want) {
				t.Errorf("the stand-in received\n%+v\nwant exactly\n%+v", got, want)
			}
		})
	}
}

// TestConnectSystemBus: with no address, Connect uses $DBUS_SYSTEM_BUS_ADDRESS.
func TestConnectSystemBus(t *testing.T) {
	addr := startBus(t)
	m := &standIn{job: "/org/freedesktop/systemd1/job/7"}
	startStandIn(t, addr, m)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := StartUnit(ctx, connect(t, ctx, ""), "ostree-repo-update.service")
	if err != nil || job != "/org/freedesktop/systemd1/job/7" {
		t.Fatalf("StartUnit = %q, %v; want /org/freedesktop/systemd1/job/7", job, err)
	}
}

// TestConnectOutlivesContext: ctx bounds the setup only.
func TestConnectOutlivesContext(t *testing.T) {
	addr := startBus(t)
	startStandIn(t, addr, &standIn{job: "/org/freedesktop/systemd1/job/1"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c := connect(t, ctx, addr)
	cancel()
	// The bus connections were given c.ctx, not ctx: godbus closes a
	// connection when its context ends, from a goroutine of its own, so
	// this is what to look at rather than waiting for a close to happen.
	if err := c.ctx.Err(); err != nil {
		t.Fatalf("the bus connections' context ended with Connect's: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, err := StartUnit(ctx2, c, testUnit); err != nil {
		t.Fatalf("StartUnit after Connect's context ended: %v", err)
	}
}

func TestStartUnitDBusError(t *testing.T) {
	addr := startBus(t)
	m := &standIn{err: godbus.NewError("org.freedesktop.systemd1.NoSuchUnit",
		[]any{"Unit " + testUnit + " not found."})}
	startStandIn(t, addr, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := StartUnit(ctx, connect(t, ctx, addr), testUnit)
	if err == nil {
		t.Fatalf("StartUnit = %q, nil; want the NoSuchUnit error", job)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "org.freedesktop.systemd1.NoSuchUnit") ||
		!strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), testUnit) {
		t.Errorf("error %q lacks the D-Bus error name, its message or the unit", err)
	}
	var de godbus.Error
	if !errors.As(err, &de) || de.Name != "org.freedesktop.systemd1.NoSuchUnit" {
		t.Errorf("errors.As(godbus.Error) = %v, %+v", errors.As(err, &de), de)
	}
	if got := len(m.recorded()); got != 1 {
		t.Errorf("the stand-in received %d calls, want 1", got)
	}
}

// TestStartUnitOddJobPath: go-systemd passes on only the job number.
func TestStartUnitOddJobPath(t *testing.T) {
	addr := startBus(t)
	startStandIn(t, addr, &standIn{job: "/org/freedesktop/systemd1/job/x"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := StartUnit(ctx, connect(t, ctx, addr), testUnit)
	if err != nil || job != "" {
		t.Fatalf("StartUnit = %q, %v; want \"\", nil", job, err)
	}
}

func TestStartUnitContextDeadline(t *testing.T) {
	addr := startBus(t)
	m := &standIn{job: "/org/freedesktop/systemd1/job/1", block: make(chan struct{})}
	startStandIn(t, addr, m)
	t.Cleanup(func() { close(m.block) }) // runs before the stand-in's connection closes
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := connect(t, ctx, addr)
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, err := StartUnit(short, c, testUnit)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("StartUnit with a stuck manager: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("StartUnit took %v to give up", d)
	}
}

func TestConnectNoBus(t *testing.T) {
	addr := "unix:path=" + filepath.Join(t.TempDir(), "nobus")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Connect(ctx, addr)
	if err == nil {
		c.Close()
		t.Fatal("Connect to a missing socket succeeded")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("error %q does not name the address and the cause", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Connect took %v to fail", d)
	}
}

// TestConnectSilentSocket: a socket that accepts but never answers the
// authentication must not hold Connect past ctx's deadline.
func TestConnectSilentSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := Connect(ctx, "unix:path="+sock)
	if err == nil {
		c.Close()
		t.Fatal("Connect to a silent socket succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Connect took %v to give up", d)
	}
}

func TestStartUnitRefusesBadNames(t *testing.T) {
	c := &Conn{} // never used: the name is checked first
	for _, unit := range []string{"", "ostree-repo-update@.service", "a b.service", "x.notatype", "@x.service"} {
		if _, err := StartUnit(context.Background(), c, unit); err == nil {
			t.Errorf("StartUnit(%q) succeeded", unit)
		}
	}
	if _, err := StartUnit(context.Background(), nil, testUnit); err == nil {
		t.Error("StartUnit on a nil Conn succeeded")
	}
}
