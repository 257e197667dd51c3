// Package testrepo makes real OSTree repositories for tests, with the
// ostree command-line tool, and asks that tool about them: it is the
// independent oracle the tests check pkg/libostree and the push against.
package testrepo
