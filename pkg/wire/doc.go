// Package wire is the wire protocol of ostree-push, version 1: the framing
// and the message codecs that the client (ostree-push) and the receiver
// (ostree-receive) speak over the stdin and stdout of an ssh session, and
// the capabilities they negotiate. The sessions that speak it are in
// pkg/transfer. protocol.md at the root of the repository is the
// specification; this package follows it and its tests check the examples
// there.
//
// The package provides:
//
//   - frames: FrameType and its constants, MaxPayload and HeaderSize,
//     FrameReader (Next, ReadMessage, ObjectReader) and FrameWriter
//     (WriteFrame, WriteMessage, WriteObject, Flush);
//   - messages, one type per frame type but DATA, each implementing
//     Message, in one msg_*.go per message family: Hello, Advertise and
//     Refs, RefFilter (with RefPattern), Query and Have, MetadataQuery
//     and MetadataHave, ObjectHeader, Update, Result and ResultFlags,
//     Progress and ErrorMsg; DecodeMessage
//     and NewMessage map a frame type to its message;
//   - negotiation helpers: Magic, Version, HighestCommonVersion,
//     Capabilities and Intersect, and the capabilities (Cap*), each beside
//     the messages it changes;
//   - version 0, the original ostree-push's protocol: V0Message, ReadV0,
//     WriteV0 and its a{sv} bodies (v0.go, v0_gvariant.go);
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
// What the codec does not check is left to the state machines built on it
// (pkg/transfer): which frame may come when, that a HAVE answers its QUERY
// with as many bits, that object content matches its checksum, that a ref
// name is one libostree accepts.
package wire
