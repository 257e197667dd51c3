package libostree

// GLibDirtree exposes glibDirtree to the tests of package libostree_test.
var GLibDirtree = glibDirtree
