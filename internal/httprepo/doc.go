// Package httprepo reaches an OSTree archive repository over HTTP, the way
// ostree-push 1.x moves commits: its client serves the local repository on
// 127.0.0.1, tunnels the port over ssh, and runs `ostree-receive REPO URL`
// on the server.
//
//   - source.go: Source, a repository a 1.x client serves, read as a
//     transfer.Source, so that the receiver pulls from it with the send
//     engine of a native push: every object it needs fetched once,
//     verified and judged by the same receive core and policy, with bounds
//     on what the client can make the server fetch and hold.
package httprepo
