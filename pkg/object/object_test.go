package object

import "testing"

func TestParseChecksum(t *testing.T) {
	const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	c, err := ParseChecksum(hex)
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != hex || c.Short() != "0123456789" || c.IsZero() {
		t.Fatalf("round trip: %s %s %v", c, c.Short(), c.IsZero())
	}
	for i, bad := range []string{"", "0123", hex + "0", hex[:63] + "G", hex[:63] + "A", hex[:63] + " "} {
		if _, err := ParseChecksum(bad); err == nil {
			t.Errorf("#%d: ParseChecksum(%q) accepted", i, bad)
		}
	}
	if !Zero.IsZero() {
		t.Error("Zero is not zero")
	}
}

func TestType(t *testing.T) {
	for _, tc := range []struct {
		t           Type
		name        string
		valid, meta bool
	}{
		{File, "file", true, false},
		{DirTree, "dirtree", true, true},
		{DirMeta, "dirmeta", true, true},
		{Commit, "commit", true, true},
		{CommitMeta, "commitmeta", true, true},
		{0, "type(0)", false, false},
		{5, "type(5)", false, false}, // tombstone commits never travel
		{7, "type(7)", false, false},
	} {
		if tc.t.String() != tc.name || tc.t.Valid() != tc.valid || tc.t.IsMeta() != tc.meta {
			t.Errorf("%d: got %q valid=%v meta=%v", tc.t, tc.t, tc.t.Valid(), tc.t.IsMeta())
		}
	}
	n := Name{Checksum: Checksum{0xab}, Type: DirTree}
	if got := n.String(); got != "ab00000000000000000000000000000000000000000000000000000000000000.dirtree" {
		t.Errorf("Name.String() = %q", got)
	}
}
