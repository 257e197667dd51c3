// Package push1x pushes to a server that runs ostree-push 1.x (the Python
// line) the way its own client does, for sites that upgrade clients before
// servers: the local repository is served read-only over HTTP on 127.0.0.1
// (internal/httprepo's Server), an ssh control master tunnels that port to
// the server (ssh -R 0:…), and the server's `ostree-receive REPO URL
// REF...` pulls from the tunnel.
//
//   - push1x.go: the push: the server, the ssh master, the tunnel, the
//     remote command, and the per-ref outcome;
//   - log.go: what the 1.x receiver did, read from its log (run with -v):
//     the refs' commits before, the commits it made (1.x re-commits what it
//     receives: its checksums are not the pushed ones), the refs it skipped;
//   - detect.go: how a native push recognizes a 1.x receiver (it refuses
//     the native command line before running anything).
package push1x
