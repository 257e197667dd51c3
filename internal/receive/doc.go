// Package receive is ostree-receive's server side around the protocol: it
// loads the configuration, confines the repository path to root, turns
// the configuration into a transfer.Policy (ref rules, signature checks,
// signing, summary, hooks, systemd), runs transfer.Receive, and logs the
// push (serve.go, policy.go, hook.go, idle.go). serve_url.go serves an
// ostree-push 1.x client: it pulls from the repository the client
// tunnels, through the same receive core; tunnel.go checks that the URL is
// that tunnel (a port this ssh session listens on), not another service.
package receive
