// Package gvariant reads and writes GLib's GVariant serialization format,
// the encoding of OSTree's metadata objects (commits, dirtrees, dirmeta),
// of its content-object headers and of the version-0 push protocol. It is
// pure Go, byte for byte what GLib's gvariant-serialiser.c writes, and
// strict in what it reads.
//
// The package provides:
//
//   - Type: a parsed definite type string (ParseType, MustParseType) with
//     its alignment, fixed size, and element or member types;
//   - Value: serialized data read in place, zero-copy: Len and Index give a
//     container's children, each a sub-slice of the data, after checking
//     the framing that bounds it; Byte, Bool, Int16 ... Double and Str read
//     basic values; VariantType names a variant's type; Validate reads
//     everything; CheckNormal and Normalize deal with normal form; String
//     prints GVariant text format;
//   - Builder: writes one value of a given type in normal form, children in
//     order, with Open/OpenVariant/Close for containers, checking every
//     value against the type expected next;
//   - Error, for data that cannot be read as its type.
//
// # The serialization (gvariant-serialiser.c)
//
// Every type has an alignment (1, 2, 4 or 8: that of its largest member)
// and is either fixed-size or variable-size. Numbers are in one byte order
// throughout a value (GLib uses the machine's; NewValue and NewBuilder take
// it). A value is aligned relative to the start of its container, and
// padding is zero bytes.
//
//   - y b n q i u x t h d: the number; b is 0 or 1.
//   - s o g: the UTF-8 bytes and one zero byte, the only one.
//   - Fixed-size tuple (all members fixed-size): the members at their
//     alignments, padded to the tuple's alignment; "()" is one zero byte.
//   - Other tuples and dict entries: the members at their alignments, then
//     the end offset of each variable-size member except the last, in
//     reverse order (gvs_tuple_serialise).
//   - Array of fixed-size elements: the elements, back to back.
//   - Array of variable-size elements: the elements, each at its
//     alignment, then the end offset of each, in order
//     (gvs_variable_sized_array_serialise). An empty array is zero bytes.
//   - Maybe: Nothing is zero bytes; Just is the child, followed by one zero
//     byte if the child is variable-size.
//   - Variant: the child, a zero byte, the child's type string.
//
// Framing offsets are little-endian, counted from the container's start,
// and all of one container have the same width: the smallest of 1, 2, 4
// and 8 bytes that can hold the container's total size, offsets included
// (gvs_get_offset_size, gvs_calculate_total_size). So a container of 255
// bytes uses 1-byte offsets and one of 256 bytes 2-byte ones.
//
// # Strictness and normal form
//
// GLib reads any byte string as any type, replacing what its framing does
// not allow with a default value. This package instead returns an *Error
// for any framing it cannot follow: an offset outside its container or
// before the previous child, an offset table that is not a whole number of
// offsets, a fixed-size value of the wrong size, a string without its
// zero byte, a variant without a valid type string.
//
// Several byte strings can still be read as the same value, with non-zero
// padding or bytes that the framing skips, for example. Exactly one of
// them is in normal form (g_variant_serialised_is_normal), the one the
// Builder and GLib write; CheckNormal accepts only that one. Callers that
// hash or store what they read should require it.
package gvariant
