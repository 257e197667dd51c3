package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParseRefspec(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want Refspec
		err  bool
	}{
		{in: "os/main", want: Refspec{Src: "os/main", Dst: "os/main"}},
		{in: "os/main^:os/old", want: Refspec{Src: "os/main^", Dst: "os/old"}},
		{in: ":gone", want: Refspec{Dst: "gone"}},
		{in: "+a:b", want: Refspec{Src: "a", Dst: "b", Force: true}},
		{in: "+main", want: Refspec{Src: "main", Dst: "main", Force: true}},
		{in: "a:", err: true},
		{in: ":", err: true},
		{in: "a:b:c", err: true},
		{in: "a:bad name", err: true},
		{in: "a:../up", err: true},
	} {
		got, err := ParseRefspec(tc.in, "remote")
		if tc.err != (err != nil) || (!tc.err && got != tc.want) {
			t.Errorf("#%d ParseRefspec(%q) = %+v, %v; want %+v (error %v)", i, tc.in, got, err, tc.want, tc.err)
		}
	}
	if _, err := ParseRefspec("a:", "local"); err == nil || !strings.Contains(err.Error(), "no local ref") {
		t.Errorf("a pull's refspec error: %v", err)
	}
}

// TestProgramExit checks the one switch from Run's error to the exit
// status and what is printed.
func TestProgramExit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		err    error
		code   int
		stdout string
		stderr string
	}{
		{name: "ok", code: 0},
		{name: "failure", err: errors.New("it broke\x1b[2J"), code: 1, stderr: "prog: it broke\\x1b[2J\n"},
		{name: "rejected", err: ErrRejected, code: 1},
		{name: "usage", err: Usage(errors.New("missing DEST")), code: 2, stderr: "prog: missing DEST\nTry 'prog --help'.\n"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "prog: unknown flag: --nope\nTry 'prog --help'.\n"},
		{name: "version", args: []string{"--version"}, code: 0, stdout: "prog 1.2 (libostree "},
		{name: "help", args: []string{"-h"}, code: 0, stdout: "Usage: prog\n  -x, --extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ran := false
			code := Program{
				Name: "prog", Usage: "Usage: prog\n", Version: "1.2",
				Flags: func(fs *pflag.FlagSet) { fs.BoolP("extra", "x", false, "an extra flag") },
				Run:   func([]string) error { ran = true; return tc.err },
			}.Main(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.HasPrefix(stdout.String(), tc.stdout) || (tc.stdout == "" && stdout.Len() > 0) {
				t.Errorf("stdout %q, want it to start with %q", stdout.String(), tc.stdout)
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
			if want := len(tc.args) == 0; ran != want {
				t.Errorf("Run called: %v, want %v", ran, want)
			}
		})
	}
}
