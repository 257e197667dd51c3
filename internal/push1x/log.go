package push1x

import (
	"strings"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// receiveLog is what a 1.x receiver's log (Python logging's default
// format, "LEVEL:otpush.receive:MESSAGE", at DEBUG) says it did. The
// messages read are those of ostree-push 1.0 to 1.2 (otpush/receive.py);
// a line that does not parse is only relayed.
type receiveLog struct {
	current  map[string]object.Checksum // the server's commits before ("None": absent)
	made     map[string]object.Checksum // "Set REF ref to NEW": the commits it made
	skipped  map[string]string          // refs it left alone, and why
	forced   map[string]bool
	noUpdate bool // "No refs need updating"
	section  string
}

func newReceiveLog() *receiveLog {
	return &receiveLog{current: map[string]object.Checksum{}, made: map[string]object.Checksum{},
		skipped: map[string]string{}, forced: map[string]bool{}}
}

const logPrefix = ":otpush.receive:"

// sameContent is why 1.x skips a commit whose tree is the server's.
const sameContent = "the server's commit has the same content"

// line reads one line of the log.
func (l *receiveLog) line(s string) {
	i := strings.Index(s, logPrefix)
	if i < 0 {
		return
	}
	msg := s[i+len(logPrefix):]
	switch {
	case msg == "Remote commits:" || msg == "Current commits:":
		l.section = msg
		return
	case strings.HasPrefix(msg, " ") && l.section == "Current commits:":
		f := strings.Fields(msg)
		if len(f) == 2 {
			if c, err := object.ParseChecksum(f[1]); err == nil {
				l.current[f[0]] = c
			}
		}
		return
	}
	l.section = ""
	f := strings.Fields(msg)
	switch {
	case msg == "No refs need updating":
		l.noUpdate = true
	case len(f) == 5 && f[0] == "Set" && f[2] == "ref" && f[3] == "to":
		if c, err := object.ParseChecksum(f[4]); err == nil {
			l.made[f[1]] = c
		}
	case len(f) == 5 && f[0] == "Forcing" && f[1] == "merge" && f[2] == "of" && f[3] == "ref":
		l.forced[f[4]] = true
	case len(f) >= 4 && f[0] == "ref" && strings.Contains(msg, " is not newer than current rev "):
		if l.skipped[f[1]] != sameContent {
			l.skipped[f[1]] = "the server's commit is not older (1.x compares timestamps)"
		}
	case len(f) >= 4 && f[0] == "ref" && strings.Contains(msg, " root equals "):
		// Same content says more than the timestamps (1.x logs both).
		l.skipped[f[1]] = sameContent
	}
}
