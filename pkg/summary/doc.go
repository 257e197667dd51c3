// Package summary reads and derives an OSTree repository's summary file:
// the GVariant (a(s(taya{sv}))a{sv}) that lists every ref with its commit
// (and the commit's size, timestamp and version) and the repository's
// metadata (mode, collection ID and map, static-delta index,
// last-modified), as libostree's ostree_repo_regenerate_summary writes it.
//
// Regenerating a summary reads every ref and loads every ref's commit, so
// it costs what the repository holds. Derive instead takes the previous
// summary and the refs that moved and writes, byte for byte, what
// libostree would write (but for the modification time): the entries of
// the refs that did not move are copied as they are. It refuses (an
// *UnderivableError, and the caller regenerates) whenever the previous
// summary might not be libostree's for the repository as it was: missing,
// framing or metadata it cannot read, keys it does not know (another tool's, such as
// flatpak's), a mode, collection ID, tombstone setting or set of static
// deltas that differ from the repository's, a moved ref whose entry does
// not show the commit it moved from, or a change in the set of keys (the
// first collection ref, the last one gone), whose order in the metadata
// dictionary follows GLib's hash table rather than any rule.
//
// Derive reads the framing of the refs and the entries the changes touch
// (found by binary search), and copies the others in blocks, as they are:
// at 100,000 refs it takes about 20 ms where a full regeneration takes
// seconds. It trusts those entries to be as libostree wrote them, which
// its caller makes sure of by deriving only from a summary it wrote itself
// (internal/store's SummaryCurrent).
//
// It is pure Go on pkg/gvariant; internal/store reads and writes the
// files through pkg/libostree.
package summary
