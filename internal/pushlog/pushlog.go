package pushlog

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Identifier is the SYSLOG_IDENTIFIER of journal entries and the prefix
// of standard error lines.
const Identifier = "ostree-receive"

// Level is a message's severity; a Logger drops messages below its own.
type Level int

// The levels, from the least to the most severe. Critical exists so that
// log_level CRITICAL means what it meant in Python: errors are dropped too.
const (
	Debug Level = iota
	Info
	Warning
	Error
	Critical
)

var levelNames = [...]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

// String is the level's Python logging name ("INFO").
func (l Level) String() string {
	if l >= Debug && l <= Critical {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel accepts the Python logging level names that the 1.x
// receiver's log_level took, in any case: DEBUG, INFO, WARNING (or WARN),
// ERROR and CRITICAL.
func ParseLevel(s string) (Level, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "WARN" {
		return Warning, nil
	}
	for i, n := range levelNames {
		if u == n {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("log level %q: want DEBUG, INFO, WARNING, ERROR or CRITICAL", s)
}

// priority is the syslog priority of the level.
func (l Level) priority() journal.Priority {
	switch {
	case l <= Debug:
		return journal.PriDebug
	case l == Info:
		return journal.PriInfo
	case l == Warning:
		return journal.PriWarning
	case l == Error:
		return journal.PriErr
	default:
		return journal.PriCrit
	}
}

// sender is what the Logger needs of the journal: go-systemd's
// journal.Send, which adds MESSAGE and PRIORITY to vars itself.
type sender interface {
	Send(message string, priority journal.Priority, vars map[string]string) error
}

type sendFunc func(string, journal.Priority, map[string]string) error

func (f sendFunc) Send(m string, p journal.Priority, v map[string]string) error { return f(m, p, v) }

// journalEnabled tells whether journald listens; a variable for tests.
var journalEnabled = journal.Enabled

// Logger writes log entries to the journal or to standard error. It is
// safe for concurrent use.
type Logger struct {
	mu      sync.Mutex
	stderr  io.Writer
	level   Level
	journal sender // nil: standard error
	user    string // the pusher's identity (SetUser); "" for none
}

// SetUser gives every entry logged from now on the pusher's identity
// (ostree-receive --user): the journal field OSTREE_RECEIVE_USER, user= on
// standard error. A push record carries its own (PushRecord.User).
func (l *Logger) SetUser(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.user = name
}

// New returns a Logger that drops entries below level. It logs to the
// systemd journal when journald is available (journal.Enabled), unless
// forceStderr, else to stderr. If sending to the journal ever fails, the
// Logger says so on stderr and logs there from then on.
func New(stderr io.Writer, level Level, forceStderr bool) *Logger {
	l := &Logger{stderr: stderr, level: level}
	if !forceStderr && journalEnabled() {
		l.journal = sendFunc(journal.Send)
	}
	return l
}

// Journal reports whether the Logger writes to the journal.
func (l *Logger) Journal() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.journal != nil
}

// Enabled reports whether entries at level are logged.
func (l *Logger) Enabled(level Level) bool { return level >= l.level }

// Logf logs a plain message at level.
func (l *Logger) Logf(level Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	l.emit(level, strings.TrimRight(fmt.Sprintf(format, args...), "\n"), nil)
}

// PushRecord is what one push did.
type PushRecord struct {
	Client   string // the pusher's address (first field of $SSH_CLIENT), or "local"
	User     string // the pusher's identity (ostree-receive --user), "" for none
	Repo     string // the repository path
	Refs     []RefRecord
	Objects  uint64        // objects received
	Bytes    uint64        // bytes received
	Duration time.Duration // from start to end of the push
	Result   string        // "ok", "ok (dry run)", "rejected", "error: ..."
	Pruned   string        // what retention pruned ("3 commits, 120 objects, 4567 bytes"), "" for nothing
}

// RefRecord is what happened to one ref: Old and New are (short)
// checksums, Status the ref's result ("ok", "rejected", ...), Message
// the reason of a failure, if any.
type RefRecord struct {
	Ref, Old, New, Status, Message string
}

// OK reports whether the push succeeded: Result is "ok", or starts with
// "ok " (as in "ok (dry run)").
func (p PushRecord) OK() bool { return p.Result == "ok" || strings.HasPrefix(p.Result, "ok ") }

// Push logs p as one entry: at Info when p.OK(), else at Warning.
func (l *Logger) Push(p PushRecord) {
	level := Info
	if !p.OK() {
		level = Warning
	}
	if !l.Enabled(level) {
		return
	}
	l.emit(level, p.summary(), p.fields())
}

// fields are the OSTREE_RECEIVE_* journal fields of a push, in the
// order the stderr line shows them (OSTREE_RECEIVE_USER only with an
// identity).
func (p PushRecord) fields() []field {
	refs := make([]string, len(p.Refs))
	for i, r := range p.Refs {
		refs[i] = strings.Join([]string{dash(r.Ref), dash(r.Old), dash(r.New), dash(r.Status)}, ":")
	}
	client := p.Client
	if client == "" {
		client = "local"
	}
	fields := []field{{"OSTREE_RECEIVE_CLIENT", client}}
	if p.User != "" {
		fields = append(fields, field{userField, p.User})
	}
	fields = append(fields, []field{
		{"OSTREE_RECEIVE_REPO", p.Repo},
		{"OSTREE_RECEIVE_REFS", strings.Join(refs, " ")},
		{"OSTREE_RECEIVE_OBJECTS", strconv.FormatUint(p.Objects, 10)},
		{"OSTREE_RECEIVE_BYTES", strconv.FormatUint(p.Bytes, 10)},
		{"OSTREE_RECEIVE_DURATION_MS", strconv.FormatInt(p.Duration.Milliseconds(), 10)},
		{"OSTREE_RECEIVE_RESULT", p.Result},
	}...)
	if p.Pruned != "" {
		fields = append(fields, field{"OSTREE_RECEIVE_PRUNED", p.Pruned})
	}
	return fields
}

// userField is the journal field of the pusher's identity.
const userField = "OSTREE_RECEIVE_USER"

// summary is the one-line MESSAGE of a push, such as
// "push from 192.0.2.7 to /srv/repo: ok; main 0123456789→abcdef0123 ok; 12 objects, 3456 bytes in 1.2s"
// ("push from 192.0.2.7 as alice to ..." with an identity).
func (p PushRecord) summary() string {
	client := p.Client
	if client == "" {
		client = "local"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "push from %s", client)
	if p.User != "" {
		fmt.Fprintf(&b, " as %s", p.User)
	}
	fmt.Fprintf(&b, " to %s: %s; ", p.Repo, p.Result)
	if len(p.Refs) == 0 {
		b.WriteString("no refs")
	}
	for i, r := range p.Refs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s→%s %s", dash(r.Ref), dash(r.Old), dash(r.New), dash(r.Status))
		if r.Message != "" {
			fmt.Fprintf(&b, " (%s)", r.Message)
		}
	}
	fmt.Fprintf(&b, "; %d objects, %d bytes in %v", p.Objects, p.Bytes, p.Duration.Round(time.Millisecond))
	if p.Pruned != "" {
		fmt.Fprintf(&b, "; pruned %s", p.Pruned)
	}
	return oneLine(b.String())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine replaces line breaks with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

type field struct{ key, value string }

// emit writes one entry to the journal or, failing that, to stderr. What
// it writes is escaped (wire.Printable): messages carry the words of
// peers and of libostree, which must not reach a terminal or the journal
// as control characters (a fake line, a cleared screen). A message keeps
// its line breaks; stderr shows its later lines with the prefix.
func (l *Logger) emit(level Level, msg string, fields []field) {
	lines := strings.Split(msg, "\n")
	for i, line := range lines {
		lines[i] = wire.Printable(line)
	}
	msg = strings.Join(lines, "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.user != "" && !slices.ContainsFunc(fields, func(f field) bool { return f.key == userField }) {
		fields = append(fields, field{userField, l.user})
	}
	if l.journal != nil {
		vars := map[string]string{"SYSLOG_IDENTIFIER": Identifier}
		for _, f := range fields {
			vars[f.key] = wire.Printable(f.value)
		}
		err := l.journal.Send(msg, level.priority(), vars)
		if err == nil {
			return
		}
		l.journal = nil
		l.writeLine(Warning, fmt.Sprintf("logging to the journal failed (%v); logging to standard error from now on", err), nil)
	}
	l.writeLine(level, msg, fields)
}

// writeLine writes "ostree-receive: LEVEL: msg key=value ..." to stderr,
// keys being the journal fields' names without OSTREE_RECEIVE_, in lower
// case, values quoted when they are empty or hold spaces, quotes, "=" or
// control characters. The continuation lines of a multi-line message
// carry the prefix too, indented.
func (l *Logger) writeLine(level Level, msg string, fields []field) {
	prefix := Identifier + ": " + level.String() + ": "
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(strings.ReplaceAll(msg, "\n", "\n"+prefix+"  "))
	for _, f := range fields {
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(strings.TrimPrefix(f.key, "OSTREE_RECEIVE_")))
		b.WriteByte('=')
		b.WriteString(quote(f.value))
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(l.stderr, b.String())
}

func quote(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool {
		return r == '"' || r == '=' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(v)
	}
	return v
}
