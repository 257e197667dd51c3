// Package s3test starts a real object store for the tests: SeaweedFS
// (`weed server -s3`, master, volume, filer and S3 gateway in one process)
// on 127.0.0.1, in a temporary directory, with one writing identity and
// anonymous read access, as a bucket served to ostree and flatpak over
// plain HTTP would have. ci/setup builds the weed binary (build/weed).
package s3test
