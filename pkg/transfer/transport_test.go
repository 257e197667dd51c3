package transfer

import (
	"io"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDestination(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want Destination
		err  bool
	}{
		{in: "host:/srv/repo", want: Destination{Host: "host", Path: "/srv/repo"}},
		{in: "user@host:repo", want: Destination{User: "user", Host: "host", Path: "repo"}},
		{in: "me@host.example:/a b/c", want: Destination{User: "me", Host: "host.example", Path: "/a b/c"}},
		{in: "ssh://host/srv/repo", want: Destination{Host: "host", Path: "/srv/repo"}},
		{in: "ssh://u@host:2222/srv/repo", want: Destination{User: "u", Host: "host", Port: "2222", Path: "/srv/repo"}},
		{in: "ssh://host/~/repo", want: Destination{Host: "host", Path: "~/repo"}},
		{in: "ssh://[::1]:22/repo", want: Destination{Host: "::1", Port: "22", Path: "/repo"}},
		{in: "/srv/repo", want: Destination{Local: true, Path: "/srv/repo"}},
		{in: "./repo:with-colon", want: Destination{Local: true, Path: "./repo:with-colon"}},
		{in: "relative/repo", want: Destination{Local: true, Path: "relative/repo"}},
		{in: "file:///srv/repo", want: Destination{Local: true, Path: "/srv/repo"}},
		{in: "", err: true},
		{in: "host:", err: true},
		{in: "-oProxyCommand=x:repo", err: true},
		{in: "ssh://host", err: true},
		{in: "ssh:///repo", err: true},
		{in: "file://", err: true},
	} {
		got, err := ParseDestination(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("#%d ParseDestination(%q) = %+v, want error", i, tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("#%d ParseDestination(%q) = %+v, %v; want %+v", i, tc.in, got, err, tc.want)
		}
	}
}

func TestSSHArgs(t *testing.T) {
	d := Destination{User: "pub", Host: "build.example", Path: "/srv/my repo's"}
	got := SSHArgs(d, SSHOptions{
		Command:        []string{"ssh", "-F", "/cfg"},
		Port:           "2222",
		Identity:       "/key",
		Options:        []string{"BatchMode=yes", "Compression=no"},
		ReceiveCommand: "/opt/bin/ostree-receive --verbose",
	})
	want := []string{"ssh", "-F", "/cfg", "-p", "2222", "-i", "/key", "-o", "BatchMode=yes", "-o", "Compression=no",
		"-l", "pub", "--", "build.example", `/opt/bin/ostree-receive --verbose '/srv/my repo'\''s'`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SSHArgs =\n%q\nwant\n%q", got, want)
	}
	// A port in the URL wins over -p; defaults fill in the rest.
	got = SSHArgs(Destination{Host: "h", Port: "22", Path: "~/repo"}, SSHOptions{Port: "99"})
	want = []string{"ssh", "-p", "22", "--", "h", "ostree-receive ~/repo"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SSHArgs = %q, want %q", got, want)
	}
}

// TestShellQuote runs the quoted words through a real shell.
func TestShellQuote(t *testing.T) {
	words := []string{"plain", "with space", "it's", `a"b`, "$HOME", "`id`", "a\\b", "new\nline", "", "-dash", "*"}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, ShellQuote(w))
	}
	script := "set -- " + strings.Join(quoted, " ") + `; for a in "$@"; do printf '%s\0' "$a"; done`
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, words) {
		t.Fatalf("the shell read %q back as %q", words, got)
	}
}

func TestSplitCommand(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "ssh", want: []string{"ssh"}},
		{in: "  ssh  -F /cfg\t-v ", want: []string{"ssh", "-F", "/cfg", "-v"}},
		{in: `ssh -o 'ProxyCommand=nc %h %p'`, want: []string{"ssh", "-o", "ProxyCommand=nc %h %p"}},
		{in: `ssh -i "/my keys/id" x\ y`, want: []string{"ssh", "-i", "/my keys/id", "x y"}},
		{in: `a"b"'c'd`, want: []string{"abcd"}},
		{in: `"a \" \\ \$ \n"`, want: []string{`a " \ $ \n`}},
		{in: `''`, want: []string{""}},
		{in: "", want: nil},
		{in: `'unterminated`, err: true},
		{in: `"unterminated`, err: true},
		{in: `trailing\`, err: true},
	} {
		got, err := SplitCommand(tc.in)
		if tc.err != (err != nil) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("#%d SplitCommand(%q) = %q, %v; want %q (error %v)", i, tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestCommandConnReadAfterExit: what the child wrote before it exited can
// be read after it has exited (the receiver's RESULT, when the client was
// busy as ssh ended). exec's own stdout pipe would be closed by then.
func TestCommandConnReadAfterExit(t *testing.T) {
	c, err := StartCommand([]string{"sh", "-c", "printf 'the last frames'"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	<-c.done // the child has exited and been waited for
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "the last frames" {
		t.Fatalf("read %q, %v after the child exited", got, err)
	}
	if err := c.Close(time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestEscapedLines(t *testing.T) {
	var out strings.Builder
	e := &EscapedLines{W: &out}
	for _, p := range []string{"\x1b]0;x\x07\x1b[2K\rok\r", "\nplain\n\tta", "b\n", strings.Repeat("y", maxErrLine+3), "\xe2\x80", "\xaelast"} {
		if n, err := e.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `\x1b]0;x\x07\x1b[2K\x0dok` + "\nplain\n" + `\x09tab` + "\n" + strings.Repeat("y", maxErrLine) + "\nyyy" + `\u202elast` + "\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
	if cap(e.buf) > maxErrLine*2 {
		t.Errorf("holds %d bytes of buffer", cap(e.buf))
	}
}

// TestCommandConnEscapesStderr: a child's standard error reaches the
// caller's escaped, its last unfinished line too, by the time Close
// returns.
func TestCommandConnEscapesStderr(t *testing.T) {
	var errOut strings.Builder
	c, err := StartCommand([]string{"sh", "-c", `printf 'a\033[Kb\nlast\007' >&2`}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if want := `a\x1b[Kb` + "\n" + `last\x07` + "\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}

// TestCommandConnStderrHeldOpen: a process the child leaves behind with
// its stderr (as ssh's ControlPersist master may) does not keep Close
// waiting.
func TestCommandConnStderrHeldOpen(t *testing.T) {
	c, err := StartCommand([]string{"sh", "-c", "sleep 30 & exit 0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Close(time.Minute); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Close took %v", d)
	}
}
