// Package store adapts a pkg/libostree repository to the interfaces through
// which pkg/transfer reaches repositories (transfer.Source, transfer.Dest):
//
//   - store.go: the repository, its reads (refs, commits, objects; the
//     walks through pkg/walk, with Loader), the ref lock (LockRefs) and the
//     transaction's writes;
//   - commit.go: the commit protocol, where the objects and refs of a push
//     become visible, all its refs together through a ref journal that the
//     next holder of the ref lock settles after a crash;
//   - staging.go: libostree's staging directories kept safe (what a later
//     push may take up, swept when stale);
//   - filez.go, compress.go: .filez objects validated and written, or made
//     from a bare repository's files to send;
//   - refs.go: the refs a push names read from their files, without listing
//     every ref (LookupRefs), and the ref count (CountRefs);
//   - summary.go: the summary after refs move, derived from the previous
//     one (pkg/summary) when that is the one the last push wrote and nothing
//     changed since (SummaryCurrent, RecordSummary), else regenerated; the
//     ostree-metadata commit of a repository with a collection ID.
package store
