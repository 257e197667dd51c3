// Package storetest is the contract a repository behind pkg/transfer keeps:
// one suite of tests, run against every implementation of transfer.Source
// and transfer.Dest (the in-memory store of pkg/transfer's protocol tests
// and internal/store's libostree repositories), so that the protocol tests
// prove something about the real thing.
//
// Where the two once differed, the libostree store is the normative one:
// the suite pins what it does, and the in-memory store follows.
//
// An implementation runs it from a test:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, storetest.Harness{New: ..., Commit: ...})
//	}
package storetest
