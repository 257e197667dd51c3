package wire

import (
	"fmt"
)

// RefStatus is the outcome of one ref update.
type RefStatus uint8

// The ref statuses. Any other value is a protocol error.
const (
	StatusOK             RefStatus = 0 // the ref was created, moved or deleted (or would be, in a dry run)
	StatusUpToDate       RefStatus = 1 // the ref already had the new value
	StatusNonFastForward RefStatus = 2 // the old commit is not an ancestor of the new one and Force was not set
	StatusStale          RefStatus = 3 // the ref's current value is not the update's Old
	StatusRejected       RefStatus = 4 // refused: policy, invalid name, missing or incomplete commit; see the message
	StatusAtomic         RefStatus = 5 // not applied because another ref of the same UPDATE failed
)

var statusNames = [...]string{
	StatusOK:             "ok",
	StatusUpToDate:       "up to date",
	StatusNonFastForward: "non-fast-forward",
	StatusStale:          "stale",
	StatusRejected:       "rejected",
	StatusAtomic:         "atomic",
}

// Valid reports whether s is one of the StatusXxx constants.
func (s RefStatus) Valid() bool { return int(s) < len(statusNames) }

// String returns "ok", "up to date", "non-fast-forward", "stale",
// "rejected" or "atomic", or "RefStatus(N)" for an unknown value.
func (s RefStatus) String() string {
	if s.Valid() {
		return statusNames[s]
	}
	return fmt.Sprintf("RefStatus(%d)", uint8(s))
}

// Success reports whether the status leaves the ref at the requested
// commit: StatusOK or StatusUpToDate.
func (s RefStatus) Success() bool { return s == StatusOK || s == StatusUpToDate }

// RefResult is the outcome of the update of one ref. Message explains a
// failure and may be empty otherwise. Forced is not in RESULT: it travels
// in RESULT_FLAGS (ResultFlags), with CapResultFlags in effect.
type RefResult struct {
	Ref     RefName
	Status  RefStatus
	Message string
	Forced  bool // moved (StatusOK) to a commit that is not a descendant of the old one
	// Metadata: the detached metadata of the ref's commit changed (in a
	// dry run, would have). Not in RESULT either: it travels in
	// RESULT_FLAGS (RefMetadata), with CapCommitmetaUpdate in effect.
	Metadata bool
}

// Result answers the client's UPDATE (FrameResult) and is the receiver's
// last message. ObjectsWritten and BytesWritten count the objects the
// receiver received and verified in this push and the sum of their sizes
// as sent; Refs has one entry for each ref of the UPDATE.
type Result struct {
	ObjectsWritten, BytesWritten uint64
	Refs                         []RefResult
}

// FrameType returns FrameResult.
func (m *Result) FrameType() FrameType { return FrameResult }

func (m *Result) validate() error {
	if err := checkCount("refs", len(m.Refs), 1, MaxRefUpdates); err != nil {
		return err
	}
	for i, r := range m.Refs {
		if err := r.Ref.check(item("refs", i)); err != nil {
			return err
		}
		if !r.Status.Valid() {
			return fmt.Errorf("%s.status: unknown status %d", item("refs", i), uint8(r.Status))
		}
		if err := checkStr(item("refs", i)+".message", r.Message, 0, maxStr); err != nil {
			return err
		}
	}
	return checkUnique("refs", len(m.Refs), func(i int) RefName { return m.Refs[i].Ref })
}

// MarshalBinary encodes the RESULT payload.
func (m *Result) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameResult, err)
	}
	size := 2*sizeU64 + sizeU32
	for _, r := range m.Refs {
		size += r.Ref.size() + sizeU8 + sizeStr + len(r.Message)
	}
	e, err := newEncoder(FrameResult, size)
	if err != nil {
		return nil, err
	}
	e.u64(m.ObjectsWritten)
	e.u64(m.BytesWritten)
	e.count(len(m.Refs))
	for _, r := range m.Refs {
		r.Ref.encode(e)
		e.u8(uint8(r.Status))
		e.str(r.Message)
	}
	return e.b, nil
}

// UnmarshalBinary decodes a RESULT payload. It returns a *ProtocolError if
// p is not a valid RESULT, leaving m unchanged. Whether the refs match the
// UPDATE being answered is for the caller to check.
func (m *Result) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameResult, p)
	if err != nil {
		return err
	}
	var v Result
	if v.ObjectsWritten, err = d.u64("objects_written"); err != nil {
		return err
	}
	if v.BytesWritten, err = d.u64("bytes_written"); err != nil {
		return err
	}
	n, err := d.count("refs", minRefNameSize+sizeU8+sizeStr, MaxRefUpdates)
	if err != nil {
		return err
	}
	if n > 0 {
		v.Refs = make([]RefResult, n)
	}
	for i := range v.Refs {
		d.item("refs", i)
		r := &v.Refs[i]
		if err := r.Ref.decode(d); err != nil {
			return err
		}
		s, err := d.u8("status")
		if err != nil {
			return err
		}
		if r.Status = RefStatus(s); !r.Status.Valid() {
			return d.errorf("status", "unknown status %d", s)
		}
		if r.Message, err = d.str("message"); err != nil {
			return err
		}
	}
	d.endList()
	if err := d.finish(); err != nil {
		return err
	}
	if err := v.validate(); err != nil {
		return d.invalid(err)
	}
	*m = v
	return nil
}

// CapResultFlags, in effect, has the receiver send RESULT_FLAGS just
// before RESULT: the facts of each ref's result as flags, which RESULT has
// no room for.
const CapResultFlags = "result-flags"

// RefFlags are the facts of one ref's result in RESULT_FLAGS.
type RefFlags uint8

// The bits of RefFlags.
const (
	// RefForced: the ref moved (or would, in a dry run) to a commit its
	// old commit is not an ancestor of, as the update's FORCE or the
	// server's configuration allowed.
	RefForced RefFlags = 0x01
	// RefDryRun, with CapResultDryRun in effect: the ref was judged and
	// would have moved (status OK), but nothing moved: the push was a dry
	// run, the client's or the server's (its configuration's dry_run).
	RefDryRun RefFlags = 0x02
	// RefMetadata, with CapCommitmetaUpdate in effect: the detached
	// metadata of the ref's commit changed in this push (in a dry run,
	// would have): the push brought signatures the receiver lacked for a
	// commit it had. For a ref whose status is OK or UP_TO_DATE.
	RefMetadata   RefFlags = 0x04
	refFlagsKnown          = RefForced | RefDryRun | RefMetadata
)

// CapServerForce, listed by a receiver whose configuration accepts
// non-fast-forward updates from every client (the 1.x receiver's force:
// yes), lets the client send such an update without FORCE and leave the
// judgement to the receiver, instead of refusing it locally: its exit
// status then says what the server did.
const CapServerForce = "server-force"

// CapResultDryRun, in effect with CapResultFlags, has the receiver set
// RefDryRun on the refs of a dry run, so that a client learns that the
// server ran the push dry even when it did not ask for it.
const CapResultDryRun = "result-dry-run"

// ResultFlags (FrameResultFlags) carries one RefFlags per ref of the
// UPDATE it answers, in the same order, with CapResultFlags in effect.
type ResultFlags struct {
	Refs []RefFlags
}

// FrameType returns FrameResultFlags.
func (m *ResultFlags) FrameType() FrameType { return FrameResultFlags }

// MarshalBinary encodes the RESULT_FLAGS payload.
func (m *ResultFlags) MarshalBinary() ([]byte, error) {
	if err := checkCount("refs", len(m.Refs), 1, MaxRefUpdates); err != nil {
		return nil, encodeError(FrameResultFlags, err)
	}
	for i, f := range m.Refs {
		if f&^refFlagsKnown != 0 {
			return nil, encodeError(FrameResultFlags, fmt.Errorf("%s: reserved flag bits %#x", item("refs", i), uint8(f&^refFlagsKnown)))
		}
	}
	e, err := newEncoder(FrameResultFlags, sizeU32+len(m.Refs)*sizeU8)
	if err != nil {
		return nil, err
	}
	e.count(len(m.Refs))
	for _, f := range m.Refs {
		e.u8(uint8(f))
	}
	return e.b, nil
}

// UnmarshalBinary decodes a RESULT_FLAGS payload. It returns a
// *ProtocolError if p is not a valid RESULT_FLAGS, leaving m unchanged.
func (m *ResultFlags) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameResultFlags, p)
	if err != nil {
		return err
	}
	n, err := d.count("refs", sizeU8, MaxRefUpdates)
	if err != nil {
		return err
	}
	if n == 0 {
		return d.errorf("refs", "no refs")
	}
	v := ResultFlags{Refs: make([]RefFlags, n)}
	for i := range v.Refs {
		d.item("refs", i)
		f, err := d.flags("flags", uint8(refFlagsKnown))
		if err != nil {
			return err
		}
		v.Refs[i] = RefFlags(f)
	}
	d.endList()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
