// Package transfer implements the wire protocol of ostree-push, version 1:
// the framing and the message codecs that the client (ostree-push) and the
// receiver (ostree-receive) speak over the stdin and stdout of an ssh
// session. protocol.md at the root of the repository is the specification;
// this package follows it and its tests check the examples there.
//
// The package provides:
//
//   - frames: FrameType and its constants, MaxPayload and HeaderSize,
//     FrameReader (Next, ReadMessage, ObjectReader) and FrameWriter
//     (WriteFrame, WriteMessage, WriteObject, Flush);
//   - messages, one type per frame type but DATA, each implementing
//     Message: Hello, Advertise, Query, Have, ObjectHeader, Update,
//     Result, Progress and ErrorMsg; DecodeMessage and NewMessage map a
//     frame type to its message;
//   - negotiation helpers: Magic, Version, HighestCommonVersion,
//     Capabilities and Intersect;
//   - errors: ProtocolError for a peer that breaks the protocol (wrapping
//     io.ErrUnexpectedEOF, ErrFrameTooLarge or ErrUnknownFrame where they
//     apply), RemoteError for a peer's ERROR message, and Printable to show
//     the peer's text safely.
//
// The stream is untrusted in both directions. Decoders check every length
// against what is left of the payload before allocating, refuse reserved
// bits, unknown values and trailing bytes, and check the limits of
// protocol.md; encoders check the same rules, so that a message this
// package encodes is one it would accept. Encoding is canonical: a payload
// that decodes re-encodes to the same bytes.
//
// What the codec does not check is left to the state machines built on it:
// which frame may come when, that a HAVE answers its QUERY with as many
// bits, that object content matches its checksum, that a ref name is one
// libostree accepts.
//
// The state machines. The receiver is one core, by step (receive_core.go
// has the outline): receive_stage.go stages the objects within the limits,
// receive_check.go checks the detached metadata and that every commit sent
// is complete, receive_decide.go decides each ref's fate under the ref lock
// and moves them all or none; Receive (receive.go) reads version 1 around
// it, ReceiveV0 (v0.go, v0_gvariant.go) version 0.
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
//   - send_query.go: the QUERYs and, as they arrive, the HAVEs;
//   - send_load.go: which encoding each object goes in, loading objects,
//     and reading ahead of the writer within a memory budget;
//   - send_share.go: with several receivers, the shared reader that loads
//     each object once and queues it for every receiver that lacks it;
//   - send_objects.go: a lane's writer, which sends the objects (OBJECT and
//     DATA frames);
//   - send_update.go: UPDATE, and RESULT turned into each ref's outcome.
package transfer
