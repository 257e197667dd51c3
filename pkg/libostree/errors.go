package libostree

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
)

// Error is a GLib error from libostree: its domain (the quark's string, such
// as "g-io-error-quark"), its code within that domain, and its message.
type Error struct {
	Domain  string
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// GLib error domains and codes that callers test for.
const (
	DomainIO = "g-io-error-quark"

	CodeIOFailed      = int(C.G_IO_ERROR_FAILED)
	CodeIONotFound    = int(C.G_IO_ERROR_NOT_FOUND)
	CodeIOExists      = int(C.G_IO_ERROR_EXISTS)
	CodeIOInvalidArg  = int(C.G_IO_ERROR_INVALID_ARGUMENT)
	CodeIOInvalidData = int(C.G_IO_ERROR_INVALID_DATA)
)

// Is reports whether err is (or wraps) an *Error with this domain and code.
// Domains are compared by name: quark numbers differ between processes.
func Is(err error, domain string, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Domain == domain && e.Code == code
}

// IsNotFound reports whether err is GIO's "not found".
func IsNotFound(err error) bool { return Is(err, DomainIO, CodeIONotFound) }

// takeError converts a GError into an *Error and frees it. It returns nil
// for a nil GError.
func takeError(gerr *C.GError) error {
	if gerr == nil {
		return nil
	}
	e := &Error{
		Domain:  C.GoString(C.g_quark_to_string(gerr.domain)),
		Code:    int(gerr.code),
		Message: C.GoString(gerr.message),
	}
	C.g_error_free(gerr)
	return e
}

// wrap prefixes a converted GError with what was being done.
func wrap(gerr *C.GError, format string, args ...any) error {
	err := takeError(gerr)
	if err == nil {
		return fmt.Errorf(format+": unknown libostree failure", args...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
