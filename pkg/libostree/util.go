package libostree

import (
	"bytes"
	"errors"
	"io"
	"syscall"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func isBrokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }
