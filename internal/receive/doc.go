// Package receive is ostree-receive's server side around the protocol: it
// loads the configuration, confines the repository path to root, turns
// the configuration into a transfer.Policy (ref rules, signature checks,
// signing, summary, hooks, systemd), runs transfer.Receive, and logs the
// push.
package receive
