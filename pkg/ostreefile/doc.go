// Package ostreefile reads, writes and checks OSTree content ("file")
// objects without libostree: their headers, their content checksum (the
// object's name) and the compressed .filez form archive-mode repositories
// store. It is pure Go.
//
// # Formats (libostree 2022.7, ostree-core.c)
//
// A content object's "content stream" is
//
//	u32 big-endian length of the header | 4 zero bytes | header (uuuusa(ayay)) | content
//
// where the header holds uid, gid, mode and rdev (each a big-endian u32
// stored in a GVariant u; rdev is always 0), the symlink target ("" for a
// regular file) and the xattrs as (name, value) pairs, names including
// their trailing NUL (g_variant_new_bytestring); read from a file, they
// are sorted by name (strcmp) and those with an empty value are left out
// (libglnx read_xattr_name_array). The object's name is the SHA-256 of the whole content
// stream, length prefix and padding included (ostree_checksum_file_from_input
// hashes the buffer _ostree_file_header_new returns, which is prefixed), and
// the content is hashed only for regular files.
//
// An archive-mode .filez is
//
//	u32 big-endian length of the header | 4 zero bytes | header (tuuuusa(ayay)) | raw deflate of the content
//
// where t is the content size, big-endian. libostree compresses with
// GZlibCompressor in raw format, level 6. A symlink's .filez is the prefix
// and the header only: no deflate stream at all, and a size of 0
// (write_content_object); an empty regular file has the two-byte empty
// deflate stream 03 00.
//
// # Why ValidateFilez is strict
//
// libostree's own check of a .filez (ostree_repo_fsck_object, also run by
// ostree_repo_import_object_from_with_trust with trusted=FALSE) parses the
// header as trusted, re-creates the checksummed header from the parsed
// fields and hashes it with the inflated data. So it accepts .filez bytes
// that differ from what it would have written, as long as the parsed
// fields hash to the right name: a non-zero padding byte, a size field that
// is not the inflated length, a regular file with a symlink target, and
// bytes after the end of the deflate stream. Stored as sent, such objects
// pass `ostree fsck` but break repositories that later pull from them. A
// receiver that stores .filez bytes as they come must therefore check every
// byte; ValidateFilez does, in one inflate pass.
package ostreefile
