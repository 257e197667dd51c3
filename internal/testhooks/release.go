//go:build !ostreepush_testhooks

package testhooks

import (
	"io"

	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// Enabled reports whether the hooks are built in.
const Enabled = false

// Fault is nil in a release build.
func Fault() (transfer.FaultFunc, error) { return nil, nil }

// BeforeRefLock is nil in a release build.
func BeforeRefLock(io.Writer) func() { return nil }

// Profile does nothing in a release build.
func Profile(string) (stop func()) { return func() {} }

// NoCapabilities is empty in a release build.
func NoCapabilities() []string { return nil }

// ShellReceiver is "" in a release build.
func ShellReceiver() string { return "" }

// ShellEnv is empty in a release build.
func ShellEnv() []string { return nil }

// PublishFault is nil in a release build.
func PublishFault() func(step string) error { return nil }
