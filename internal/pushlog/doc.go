// Package pushlog logs what ostree-receive does: plain messages, and one
// structured record per push (who pushed, to which repository, which refs
// moved from what to what, how much was received, how long it took, and
// how it ended). Entries go to the systemd journal when journald is there,
// with the push's details as journal fields (OSTREE_RECEIVE_*), else to
// standard error as "ostree-receive: LEVEL: message key=value ..." lines.
// The pusher's identity (Logger.SetUser, PushRecord.User), when it has
// one, is on every entry: OSTREE_RECEIVE_USER, user=.
package pushlog
