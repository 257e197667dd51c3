package libostree

// DirtreeCheck exposes dirtreeCheck to the tests of package libostree_test.
var DirtreeCheck = dirtreeCheck
