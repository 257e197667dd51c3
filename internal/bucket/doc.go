// Package bucket is an S3 bucket (or a prefix in one) seen as the files of
// an OSTree archive repository: where an object, a ref or the summary is
// read from and written to an object store, and nothing else. It wraps
// aws-sdk-go-v2's S3 client with what publishing needs:
//
//   - bucket.go: s3://BUCKET[/PREFIX] URLs, the client (the standard AWS
//     configuration chain, an endpoint and path-style addressing for
//     S3-compatible stores, bounded retries with backoff, one connection
//     pool sized to the parallelism) and the requests: Get, Head, List,
//     Put with If-Match / If-None-Match, Delete, each counted;
//   - multipart.go: large objects uploaded in parts, each part checked by
//     the store against its SHA-256, nothing visible unless every part
//     arrived;
//   - memory.go: an in-memory Store with the same contract, for the tests
//     of internal/publish (contract_test.go holds both to one suite).
//
// Bodies read from a store are size-bounded by the caller; error texts
// from the store are the store's and are escaped by whoever prints them.
package bucket
