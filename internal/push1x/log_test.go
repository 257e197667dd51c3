package push1x

import (
	"strings"
	"testing"
)

// A 1.0.1 receiver's log at DEBUG (the lines this package reads, as
// otpush/receive.py words them), with noise around.
const sampleLog = `DEBUG:otpush.receive:Using repo path /srv/repo
INFO:otpush.receive:Remote commits:
INFO:otpush.receive: app/x 1111111111111111111111111111111111111111111111111111111111111111
INFO:otpush.receive: os/main 2222222222222222222222222222222222222222222222222222222222222222
INFO:otpush.receive: os/old 3333333333333333333333333333333333333333333333333333333333333333
INFO:otpush.receive:Current commits:
INFO:otpush.receive: app/x None
INFO:otpush.receive: os/main 4444444444444444444444444444444444444444444444444444444444444444
INFO:otpush.receive: os/old 5555555555555555555555555555555555555555555555555555555555555555
DEBUG:otpush.receive:Pulling app/x
1 metadata, 2 content objects fetched; 3 KiB transferred in 0 seconds
WARNING:otpush.receive:ref os/old remote rev 3333333333333333333333333333333333333333333333333333333333333333 is not newer than current rev 5555555555555555555555555555555555555555555555555555555555555555
DEBUG:otpush.receive:Set app/x ref to 6666666666666666666666666666666666666666666666666666666666666666
DEBUG:otpush.receive:Set os/main ref to 7777777777777777777777777777777777777777777777777777777777777777
INFO:otpush.receive:Forcing merge of ref os/main
`

func TestReceiveLog(t *testing.T) {
	l := newReceiveLog()
	for _, s := range strings.Split(sampleLog, "\n") {
		l.line(s)
	}
	if _, ok := l.current["app/x"]; ok || l.current["os/main"].String()[:4] != "4444" || l.current["os/old"].String()[:4] != "5555" {
		t.Errorf("current: %v", l.current)
	}
	if l.made["app/x"].String()[:4] != "6666" || l.made["os/main"].String()[:4] != "7777" || len(l.made) != 2 {
		t.Errorf("made: %v", l.made)
	}
	if len(l.skipped) != 1 || l.skipped["os/old"] == "" {
		t.Errorf("skipped: %v", l.skipped)
	}
	if !l.forced["os/main"] || l.noUpdate {
		t.Errorf("forced %v, noUpdate %v", l.forced, l.noUpdate)
	}
	l.line("INFO:otpush.receive:No refs need updating")
	if !l.noUpdate {
		t.Error("No refs need updating not read")
	}
}

// TestReceiveLogSameContent: 1.x warns twice about a commit it already has
// a copy of (not newer, same root); the same content wins: up to date.
func TestReceiveLogSameContent(t *testing.T) {
	for _, order := range [][]string{{"not newer", "root"}, {"root", "not newer"}} {
		l := newReceiveLog()
		for _, w := range order {
			if w == "root" {
				l.line("WARNING:otpush.receive:ref app/x remote commit 1111111111111111111111111111111111111111111111111111111111111111 root equals 2222222222222222222222222222222222222222222222222222222222222222")
			} else {
				l.line("WARNING:otpush.receive:ref app/x remote rev 1111111111111111111111111111111111111111111111111111111111111111 is not newer than current rev 2222222222222222222222222222222222222222222222222222222222222222")
			}
		}
		if l.skipped["app/x"] != sameContent {
			t.Errorf("%v: skipped %q", order, l.skipped["app/x"])
		}
	}
}
