package pushlog

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{
		"DEBUG": Debug, "debug": Debug, "Info": Info, "WARNING": Warning, "warn": Warning,
		"ERROR": Error, "critical": Critical, " INFO ": Info,
	} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "LOUD", "FATAL", "10", "NOTSET"} {
		if got, err := ParseLevel(in); err == nil {
			t.Errorf("ParseLevel(%q) = %v, want an error", in, got)
		}
	}
	for l := Debug; l <= Critical; l++ {
		if back, err := ParseLevel(l.String()); err != nil || back != l {
			t.Errorf("ParseLevel(%v.String()) = %v, %v", l, back, err)
		}
	}
}

// entry is one journal entry as go-systemd's journal.Send writes it:
// PRIORITY and MESSAGE, then vars.
type entry map[string]string

type capture struct {
	mu      sync.Mutex
	entries []entry
	err     error
}

func (c *capture) Send(msg string, pri journal.Priority, vars map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	e := entry{"MESSAGE": msg, "PRIORITY": strconv.Itoa(int(pri))}
	for k, v := range vars {
		if _, dup := e[k]; dup {
			// journal.Send writes PRIORITY and MESSAGE itself: a second
			// one in vars would make a duplicate field.
			e["DUPLICATE_"+k] = v
		}
		e[k] = v
	}
	c.entries = append(c.entries, e)
	return nil
}

func journalLogger(level Level) (*Logger, *capture, *bytes.Buffer) {
	var buf bytes.Buffer
	c := &capture{}
	l := New(&buf, level, true)
	l.journal = c
	return l, c, &buf
}

var push = PushRecord{
	Client: "192.0.2.7",
	Repo:   "/srv/repo",
	Refs: []RefRecord{
		{Ref: "exampleos/x86_64/stable", Old: "0123456789", New: "abcdef0123", Status: "ok"},
		{Ref: "exampleos/x86_64/devel", Old: "1111111111", New: "2222222222", Status: "rejected", Message: "not a fast-forward"},
	},
	Objects:  12,
	Bytes:    34567,
	Duration: 1234567 * time.Microsecond,
	Result:   "rejected",
}

const pushSummary = "push from 192.0.2.7 to /srv/repo: rejected; " +
	"exampleos/x86_64/stable 0123456789→abcdef0123 ok, " +
	"exampleos/x86_64/devel 1111111111→2222222222 rejected (not a fast-forward); " +
	"12 objects, 34567 bytes in 1.235s"

func TestPushJournalFields(t *testing.T) {
	l, c, buf := journalLogger(Info)
	l.Push(push)
	want := []entry{{
		"MESSAGE":                    pushSummary,
		"PRIORITY":                   "4",
		"SYSLOG_IDENTIFIER":          "ostree-receive",
		"OSTREE_RECEIVE_CLIENT":      "192.0.2.7",
		"OSTREE_RECEIVE_REPO":        "/srv/repo",
		"OSTREE_RECEIVE_REFS":        "exampleos/x86_64/stable:0123456789:abcdef0123:ok exampleos/x86_64/devel:1111111111:2222222222:rejected",
		"OSTREE_RECEIVE_OBJECTS":     "12",
		"OSTREE_RECEIVE_BYTES":       "34567",
		"OSTREE_RECEIVE_DURATION_MS": "1234",
		"OSTREE_RECEIVE_RESULT":      "rejected",
	}}
	if len(c.entries) != 1 || !maps.Equal(c.entries[0], want[0]) {
		t.Errorf("journal entries\n%q\nwant\n%q", c.entries, want)
	}
	if buf.Len() != 0 {
		t.Errorf("stderr got %q while logging to the journal", buf)
	}
	// Names the journal accepts: go-systemd warns on others, journald drops them.
	valid := regexp.MustCompile(`^[A-Z0-9][A-Z0-9_]*$`)
	for k := range c.entries[0] {
		if !valid.MatchString(k) || len(k) > 64 {
			t.Errorf("invalid journal field name %q", k)
		}
	}
}

func TestPushOKAndLocal(t *testing.T) {
	l, c, _ := journalLogger(Info)
	p := PushRecord{Repo: "/srv/repo", Refs: []RefRecord{{Ref: "main", Old: "0000000000", New: "abcdef0123", Status: "ok"}},
		Objects: 3, Bytes: 100, Duration: 2 * time.Second, Result: "ok (dry run)"}
	l.Push(p)
	want := entry{
		"MESSAGE":                    "push from local to /srv/repo: ok (dry run); main 0000000000→abcdef0123 ok; 3 objects, 100 bytes in 2s",
		"PRIORITY":                   "6",
		"SYSLOG_IDENTIFIER":          "ostree-receive",
		"OSTREE_RECEIVE_CLIENT":      "local",
		"OSTREE_RECEIVE_REPO":        "/srv/repo",
		"OSTREE_RECEIVE_REFS":        "main:0000000000:abcdef0123:ok",
		"OSTREE_RECEIVE_OBJECTS":     "3",
		"OSTREE_RECEIVE_BYTES":       "100",
		"OSTREE_RECEIVE_DURATION_MS": "2000",
		"OSTREE_RECEIVE_RESULT":      "ok (dry run)",
	}
	if len(c.entries) != 1 || !maps.Equal(c.entries[0], want) {
		t.Errorf("journal entries\n%q\nwant\n%q", c.entries, want)
	}
}

func TestPushErrorOneLine(t *testing.T) {
	l, c, _ := journalLogger(Info)
	l.Push(PushRecord{Client: "2001:db8::1", Repo: "/srv/repo", Result: "error: hook said\nno", Duration: time.Millisecond})
	e := c.entries[0]
	if want := "push from 2001:db8::1 to /srv/repo: error: hook said no; no refs; 0 objects, 0 bytes in 1ms"; e["MESSAGE"] != want {
		t.Errorf("MESSAGE = %q, want %q", e["MESSAGE"], want)
	}
	if e["OSTREE_RECEIVE_RESULT"] != `error: hook said\x0ano` || e["OSTREE_RECEIVE_REFS"] != "" || e["PRIORITY"] != "4" {
		t.Errorf("fields %q", e)
	}
}

func TestLogfJournal(t *testing.T) {
	l, c, _ := journalLogger(Debug)
	l.Logf(Debug, "read config %s", "/etc/ostree/ostree-receive.conf")
	l.Logf(Critical, "boom\n")
	want := []entry{
		{"MESSAGE": "read config /etc/ostree/ostree-receive.conf", "PRIORITY": "7", "SYSLOG_IDENTIFIER": "ostree-receive"},
		{"MESSAGE": "boom", "PRIORITY": "2", "SYSLOG_IDENTIFIER": "ostree-receive"},
	}
	if len(c.entries) != len(want) {
		t.Fatalf("journal entries %q, want %q", c.entries, want)
	}
	for i := range want {
		if !maps.Equal(c.entries[i], want[i]) {
			t.Errorf("entry %d = %q, want %q", i, c.entries[i], want[i])
		}
	}
	for l, pri := range map[Level]journal.Priority{Debug: 7, Info: 6, Warning: 4, Error: 3, Critical: 2} {
		if l.priority() != pri {
			t.Errorf("%v.priority() = %d, want %d", l, l.priority(), pri)
		}
	}
}

func TestJournalFailureFallsBack(t *testing.T) {
	l, c, buf := journalLogger(Info)
	c.err = errors.New("sendmsg: no buffer space")
	l.Logf(Info, "first")
	l.Logf(Info, "second")
	want := "ostree-receive: WARNING: logging to the journal failed (sendmsg: no buffer space); logging to standard error from now on\n" +
		"ostree-receive: INFO: first\n" +
		"ostree-receive: INFO: second\n"
	if buf.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", buf, want)
	}
	if l.Journal() {
		t.Error("still logging to the journal")
	}
}

func TestStderrFormat(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Info, true)
	if l.Journal() {
		t.Fatal("forceStderr: the Logger uses the journal")
	}
	l.Logf(Info, "running update_hook %s", "/usr/local/bin/hook")
	l.Logf(Error, "update_hook failed:\nline 1\nline 2\n")
	l.Push(push)
	l.Push(PushRecord{Client: "192.0.2.7", Repo: "/srv/my repo", Result: "ok", Duration: 5 * time.Millisecond})
	want := `ostree-receive: INFO: running update_hook /usr/local/bin/hook
ostree-receive: ERROR: update_hook failed:
ostree-receive: ERROR:   line 1
ostree-receive: ERROR:   line 2
ostree-receive: WARNING: ` + pushSummary + ` client=192.0.2.7 repo=/srv/repo refs="exampleos/x86_64/stable:0123456789:abcdef0123:ok exampleos/x86_64/devel:1111111111:2222222222:rejected" objects=12 bytes=34567 duration_ms=1234 result=rejected
ostree-receive: INFO: push from 192.0.2.7 to /srv/my repo: ok; no refs; 0 objects, 0 bytes in 5ms client=192.0.2.7 repo="/srv/my repo" refs="" objects=0 bytes=0 duration_ms=5 result=ok
`
	if buf.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestEscapes: a message or a push record holding control characters
// (from a peer, or from libostree quoting one) reaches standard error and
// the journal escaped, each line of a multi-line message too.
func TestEscapes(t *testing.T) {
	evil := "x\r\x1b[2K\x1b[32mok\x07"
	var buf bytes.Buffer
	l := New(&buf, Debug, true)
	l.Logf(Error, "refused %s\nsecond %s", evil, evil)
	l.Push(PushRecord{Client: "local", Repo: "/r", Result: "error: " + evil,
		Refs: []RefRecord{{Ref: evil, Status: "rejected", Message: evil}}})
	var sent []string
	j := New(io.Discard, Debug, true)
	j.journal = sendFunc(func(m string, _ journal.Priority, v map[string]string) error {
		sent = append(sent, m)
		for _, val := range v {
			sent = append(sent, val)
		}
		return nil
	})
	j.Logf(Error, "refused %s", evil)
	j.Push(PushRecord{Client: "local", Repo: "/r", Result: "error: " + evil, Refs: []RefRecord{{Ref: evil, Message: evil}}})
	for _, out := range append(sent, buf.String()) {
		for _, c := range "\r\x1b\x07" {
			if strings.ContainsRune(out, c) {
				t.Errorf("%q raw in %q", c, out)
			}
		}
	}
	if !strings.Contains(buf.String(), `x\x0d\x1b[2K\x1b[32mok\x07`) {
		t.Errorf("not escaped as \\xNN:\n%s", buf.String())
	}
}

func TestLevelFiltering(t *testing.T) {
	for _, tc := range []struct {
		level Level
		want  []string // levels of the lines written
	}{
		{Debug, []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "INFO", "WARNING"}},
		{Info, []string{"INFO", "WARNING", "ERROR", "CRITICAL", "INFO", "WARNING"}},
		{Warning, []string{"WARNING", "ERROR", "CRITICAL", "WARNING"}},
		{Error, []string{"ERROR", "CRITICAL"}},
		{Critical, []string{"CRITICAL"}},
	} {
		var buf bytes.Buffer
		l := New(&buf, tc.level, true)
		for lv := Debug; lv <= Critical; lv++ {
			l.Logf(lv, "at %v", lv)
		}
		l.Push(PushRecord{Result: "ok"})       // Info
		l.Push(PushRecord{Result: "rejected"}) // Warning
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			if line == "" {
				continue
			}
			f := strings.SplitN(line, ": ", 3)
			got = append(got, f[1])
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("level %v: lines at %v, want %v\n%s", tc.level, got, tc.want, buf.String())
		}
	}
}

func TestNewChoosesJournal(t *testing.T) {
	defer func(f func() bool) { journalEnabled = f }(journalEnabled)
	journalEnabled = func() bool { return true }
	if !New(&bytes.Buffer{}, Info, false).Journal() {
		t.Error("journald available: the Logger does not use it")
	}
	if New(&bytes.Buffer{}, Info, true).Journal() {
		t.Error("forceStderr: the Logger uses the journal")
	}
	journalEnabled = func() bool { return false }
	if New(&bytes.Buffer{}, Info, false).Journal() {
		t.Error("no journald: the Logger uses the journal")
	}
}

// TestNewWithoutJournald uses the real journal.Enabled: with no journald
// (containers, CI, this project's build machine) New logs to stderr.
func TestNewWithoutJournald(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Info, false)
	if journal.Enabled() {
		if !l.Journal() {
			t.Error("journald is here but the Logger does not use it")
		}
		t.Skip("journald is running here: the stderr fallback is not exercised")
	}
	if l.Journal() {
		t.Fatal("no journald, yet the Logger uses the journal")
	}
	l.Logf(Info, "hello")
	if buf.String() != "ostree-receive: INFO: hello\n" {
		t.Errorf("stderr = %q", buf.String())
	}
}

func TestConcurrent(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Debug, true)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				l.Logf(Info, "n=%d", j)
				l.Push(push)
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(buf.String(), "\n"); n != 8*50*2 {
		t.Errorf("%d lines, want %d", n, 8*50*2)
	}
}

// TestUser: with an identity (SetUser), every entry carries it: the push
// record in its summary and as OSTREE_RECEIVE_USER (user= on stderr), and
// every other entry as that field too. Escaped like any peer text.
func TestUser(t *testing.T) {
	l, c, _ := journalLogger(Info)
	l.SetUser("alice")
	l.Logf(Info, "hello")
	p := push
	p.User = "alice"
	l.Push(p)
	if len(c.entries) != 2 {
		t.Fatalf("entries %q", c.entries)
	}
	for _, e := range c.entries {
		if e["OSTREE_RECEIVE_USER"] != "alice" {
			t.Errorf("entry without OSTREE_RECEIVE_USER=alice: %q", e)
		}
	}
	if got, want := c.entries[1]["MESSAGE"], strings.Replace(pushSummary, "192.0.2.7 to", "192.0.2.7 as alice to", 1); got != want {
		t.Errorf("push summary %q, want %q", got, want)
	}

	var buf bytes.Buffer
	l = New(&buf, Info, true)
	l.SetUser("bob")
	l.Logf(Info, "hello")
	l.Push(PushRecord{Client: "192.0.2.7", User: "bob", Repo: "/srv/r", Result: "ok", Duration: 5 * time.Millisecond})
	want := `ostree-receive: INFO: hello user=bob
ostree-receive: INFO: push from 192.0.2.7 as bob to /srv/r: ok; no refs; 0 objects, 0 bytes in 5ms client=192.0.2.7 user=bob repo=/srv/r refs="" objects=0 bytes=0 duration_ms=5 result=ok
`
	if buf.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", buf.String(), want)
	}

	// Escaped, though ostree-receive only ever sets a valid identity.
	buf.Reset()
	l = New(&buf, Info, true)
	l.SetUser("x\n\x1b[2Ky")
	l.Logf(Info, "hello")
	if strings.ContainsAny(buf.String(), "\x1b") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("identity not escaped: %q", buf.String())
	}
}
