// Package benchgen generates the file trees that ci/bench pushes: a
// deterministic (seeded) tree of N files with a realistic mix of sizes,
// kinds and directory depths, and a second version of it in which 1% of the
// files changed (modified, added, removed).
//
// A Tree is a description: entries with their paths, kinds, modes, sizes
// and the seed of their content. Content is made from that seed when the
// tree is written (Write, Update), so describing a tree of 80,000 files is
// quick and two trees can be compared without touching the disk.
//
// The mix, for N files (exact counts, rounded, placed at random):
//
//   - 1.5% large regular files, 100 KiB–2 MiB (log-uniform), half
//     text-like, half binary-like;
//   - 4% symlinks, relative, to another file of the tree;
//   - 3% duplicates: regular files whose content and mode are those of
//     another small file of the tree;
//   - the rest small regular files, 0–16 KiB (1% empty, the others
//     log-uniform from 32 B), 60% text-like, 40% binary-like;
//   - 5% of all entries executable (mode 0755), taken from the small
//     regular files; other files are 0644;
//   - about one directory for every 12 files, nested up to MaxDepth (8)
//     deep, the deepest chain always reaching MaxDepth.
//
// Text-like content is words of a fixed vocabulary in lines (gzip takes it
// to about a third); binary-like content is 512-byte blocks of random bytes,
// zeros, a small alphabet or a copy of an earlier block (gzip takes it to
// about 60%).
//
// The package also holds the rest of ci/bench's tooling: Verify, its verify
// floor (`benchgen verify`: every object of an archive repository checked
// as ostree-push's receiver checks it, zlib, strict rules and SHA-256, with
// one or more goroutines), RenderReport, its report, and what its
// object-store case runs: a SeaweedFS for the bench (RunS3Server), a
// counting reverse proxy in front of it (Proxy, RunProxy: requests by
// class, failed ones, bytes), and the buckets' creation and check
// (CreateBucket, CheckBucket).
package benchgen
