// Package object names OSTree objects: the SHA-256 checksum that identifies
// an object and the type that, with the checksum, locates it in a repository.
//
// It is pure Go so that both the libostree binding (pkg/libostree) and the
// wire protocol (pkg/transfer) can share one vocabulary without cgo.
package object
