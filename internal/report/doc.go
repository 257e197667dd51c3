// Package report prints the result of a push (or of a pull over ssh) the
// way git does: a "To DEST" or "From SOURCE" line, then one line per ref;
// or, with --json, one JSON object.
package report
