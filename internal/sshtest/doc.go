// Package sshtest runs a throwaway OpenSSH server on 127.0.0.1 for tests.
//
// It wraps ci/test-sshd: Start generates host and client keys in a
// temporary directory, starts /usr/sbin/sshd on a free port and returns a
// Server whose ssh_config logs in as the current user with
//
//	ssh -F Server.ConfigFile testhost COMMAND
//
// StartWithOptions can restrict the client key with authorized_keys
// options, such as a forced command.
//
// When sshd or the ssh client is not installed the test is skipped, unless
// the environment has CI=true, where it fails instead: CI must never skip
// the end-to-end tests silently. Under go test -short (make test, the fast
// tier) every test that needs the server is skipped.
package sshtest
