// Package libostree is a thin Go binding of the libostree calls that
// ostree-push needs: opening and creating repositories, resolving, listing
// and writing refs, loading commits, reading objects, and writing them
// through a transaction that verifies every checksum before anything
// becomes visible; GPG signatures, the summary and static deltas. The tree
// walks are pkg/walk's and the commit protocol internal/store's, in Go; C
// (shim.c, sign_shim.c) is kept to wrappers of one libostree operation.
//
// It is the only package of ostree-push that uses cgo. It needs libostree
// 2022.7 or newer (what Debian 12 ships), found with pkg-config as ostree-1;
// an older libostree fails the build (see shim.h).
//
// Rules the package keeps:
//   - Every wrapper (Repo, ContentReader) has one owner and an explicit Close.
//     A finalizer is only a backstop; Live counts the wrappers still open so
//     tests can assert that nothing leaked.
//   - Every GError becomes an *Error that keeps GLib's domain, code and
//     message, and the GError is freed.
//   - Data is copied out of C memory; no C type appears in the exported API.
package libostree
