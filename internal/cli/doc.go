// Package cli is the frame ostree-push and ostree-pull-ssh share
// (frame.go): flags parsed, --help and --version, the ssh flags defined
// once, the repository path, refspecs, signals, and the one switch from an
// error to the exit status. And what they share about the commands they
// start: the program installed beside them, the ssh command a user chose,
// an argv quoted for showing, and what ssh's failure means.
package cli
