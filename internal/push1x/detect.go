package push1x

import "strings"

// usageMark is what 1.x's ostree-receive prints (argparse) when it is run
// as a native client runs it, `ostree-receive REPO`: it wants a URL. It
// exits with status 2 before it opens anything.
const usageMark = "the following arguments are required: URL"

// IsReceiver1x reports whether a receiver that sent nothing and exited
// with status code wrote stderr as 1.x's ostree-receive does when it is
// given no URL.
func IsReceiver1x(received int64, code int, stderr string) bool {
	return received == 0 && code == 2 && strings.Contains(stderr, usageMark)
}

// IsSender1x reports whether the remote ostree-push a pull ran (`ostree-push
// --stdio …`) is 1.x's, which cannot serve a pull: it sent nothing and its
// messages are Python's.
func IsSender1x(received int64, stderr string) bool {
	return received == 0 && (strings.Contains(stderr, "otpush") || strings.Contains(stderr, "usage: ostree-push [-h]"))
}
