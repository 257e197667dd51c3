// Package transfer holds the sessions of the ostree-push protocol, built
// on the frames and messages of pkg/wire: the receiver, the client's send
// engine, version 0 of the protocol (the original ostree-push's), the ssh
// and local transports (transport.go), the repository interfaces they reach
// repositories through (store.go: pkg/libostree satisfies them through
// internal/store, the tests with an in-memory store), the history walks
// (walk.go) and fault injection for the tests (fault.go). Pure Go: the
// protocol is unit-tested and fuzzed without C.
//
// The state machines. The receiver is one core, by step (receive_core.go
// has the outline): receive_stage.go stages the objects within the limits,
// receive_check.go checks the detached metadata (and which commits the
// repository had gain signatures) and that every commit sent is complete, receive_decide.go decides each ref's fate under the ref lock
// and moves them all or none; Receive (receive.go) reads version 1 around
// it, ReceiveV0 (v0.go) version 0, whose messages are pkg/wire's.
//
// The client is one send engine that Push (one receiver) and PushMany
// (several, each object read once for all) both run, a single push being
// a fan-out of one. Its files:
//
//   - send.go: Push, PushMany, their options and results;
//   - send_engine.go: the engine, one lane a receiver, and which error a
//     failed lane reports;
//   - send_plan.go: refspecs resolved (CheckSpecs), refs judged, the
//     objects to offer (walk.go walks the history, speculatively ahead of
//     the receiver's answer) and the order they are sent in;
//   - send_negotiate.go: HELLO, ADVERTISE and REFS, reading the receiver;
//   - send_query.go: the METADATA_QUERY and QUERYs and, as they arrive,
//     their METADATA_HAVE and HAVEs;
//   - send_load.go: which encoding each object goes in, loading objects,
//     and reading ahead of the writer within a memory budget;
//   - send_share.go: with several receivers, the shared reader that loads
//     each object once and queues it for every receiver that lacks it;
//   - send_objects.go: a lane's writer, which sends the objects (OBJECT and
//     DATA frames);
//   - send_update.go: UPDATE, and RESULT turned into each ref's outcome.
package transfer
