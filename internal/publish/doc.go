// Package publish publishes commits of a local repository into an object
// store laid out as an OSTree archive repository (ostree-push
// s3://BUCKET[/PREFIX]), so that ostree and flatpak read it over plain
// HTTP, directly or through a CDN. It reaches the store through
// internal/bucket's Store and the local repository through Source
// (internal/store satisfies it).
//
// Readers must never catch a publish half-done, and a publish killed at
// any point must leave only objects no ref reaches. So the order is fixed:
//
//   - plan.go: the bucket's config (written on the first publish), refs
//     (with their ETags) and summary; each ref judged as a push judges it;
//     the objects the new commits need beyond what the bucket's refs
//     reach; which of those the bucket already has, asked by HEAD or by
//     LIST, whichever costs fewer requests;
//   - upload.go: every object checked as ostree-receive checks what it is
//     sent, then uploaded in an order that keeps the bucket closed under
//     "an object is there only once all it points to is": file objects and
//     dirmeta, then dirtrees from the leaves up, then detached metadata,
//     then commits;
//   - refs.go: the refs moved, each a compare-and-swap (If-Match on the
//     ETag read, If-None-Match: * for a new one), put back when another
//     of the push's refs turns out stale;
//   - summary.go: the summary derived from the bucket's previous one (or
//     regenerated from the refs), written by compare-and-swap too, and
//     its signatures last.
package publish
