// Package bufpool holds byte buffers for reuse by size class, so that a
// receiver handling tens of thousands of objects does not allocate (and
// zero, and later return to the kernel) a buffer for each: Get and Put.
package bufpool
