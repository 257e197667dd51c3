// Package systemd starts a systemd unit after a push (the receiver's
// systemd_unit setting) through systemd's D-Bus API, so that long jobs
// (static deltas, mirroring) run outside the ssh connection.
//
// The one call ostree-receive makes is a method call on the bus (the
// system bus, or the address given to Connect) to destination
// org.freedesktop.systemd1, object /org/freedesktop/systemd1, interface
// org.freedesktop.systemd1.Manager, method StartUnit, signature "ss",
// arguments (unit name, "replace"), expecting an object path (the job)
// back. It waits for that reply only, never for the job to finish.
// Connecting opens two private connections (go-systemd keeps one for
// calls, one for signals), each authenticating with EXTERNAL and calling
// org.freedesktop.DBus.Hello, and adds a match rule for the Manager's
// JobRemoved signal on the bus daemon; nothing else is sent to systemd.
//
// # What the tests prove, and what they do not
//
// systemd_test.go starts a private dbus-daemon, owns the name
// org.freedesktop.systemd1 on it and exports a stand-in Manager at
// /org/freedesktop/systemd1. It proves that StartUnit sends exactly the
// call above (the stand-in records the destination, path, interface,
// member, signature and arguments of every call it receives, and sees
// that one call and nothing else, no Subscribe), returns the job path
// from the reply, returns although the stand-in never finishes the job
// (no JobRemoved signal), passes a D-Bus error (such as
// org.freedesktop.systemd1.NoSuchUnit) on with its name, and that Connect
// fails quickly with no bus at the address, and within the context's
// deadline with a socket that never answers.
//
// It does not prove that a real systemd starts the unit, that polkit or
// the bus policy lets the push account (usually not root) call StartUnit
// on the system bus (a polkit rule or a sudo-less alternative is the
// administrator's job), or that the unit file (ostree-repo-update@.service
// or whatever systemd_unit names) exists and does the right thing.
package systemd
