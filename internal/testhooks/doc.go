// Package testhooks holds the switches the tests and the benchmarks turn
// on through the environment: fault injection ($OSTREE_PUSH_FAULT), the
// receiver's before-refs hook ($OSTREE_RECEIVE_TEST_BEFORE_REFS), CPU
// profiling ($OSTREE_PUSH_CPUPROFILE), capabilities switched off
// ($OSTREE_PUSH_NO_CAPS), and the receiver ostree-receive-shell runs when
// none is installed beside it ($OSTREE_RECEIVE_SHELL_RECEIVE).
//
// They exist only in binaries built with the ostreepush_testhooks build
// tag, as e2e's TestMain and ci/bench build them. A release build (make,
// the packages) gets the stubs of release.go, which read nothing: a client
// that can set the receiver's environment (AcceptEnv, environment= in
// authorized_keys) finds no switch there, and `strings` of a release binary
// shows none of the variables' names.
package testhooks
