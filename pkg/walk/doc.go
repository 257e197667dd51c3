// Package walk walks the trees of OSTree commits, in Go: what a commit
// needs (Reachable), what it needs beyond a base commit that a repository
// is known to hold whole (ReachableSince), and whether all of it is
// present (CheckComplete). Commits and dirtrees are read with pkg/gvariant
// from a Loader, a level of the tree at a time, several objects at once.
// Parent commits are never followed: callers walk history themselves.
package walk
