package libostree

import (
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
)

func TestParseDeltaName(t *testing.T) {
	a := object.MustParseChecksum(strings.Repeat("ab", 32))
	b := object.MustParseChecksum(strings.Repeat("cd", 32))
	for _, tc := range []struct {
		name     string
		from, to object.Checksum
		ok       bool
	}{
		{a.String() + "-" + b.String(), a, b, true},
		{b.String(), object.Zero, b, true},
		{"", object.Zero, object.Zero, false},
		{a.String() + "-", object.Zero, object.Zero, false},
		{"-" + b.String(), object.Zero, object.Zero, false},
		{"q6vL" + "-" + b.String(), object.Zero, object.Zero, false}, // modified base64: not a name libostree lists
	} {
		from, to, err := ParseDeltaName(tc.name)
		if (err == nil) != tc.ok || from != tc.from || to != tc.to {
			t.Errorf("ParseDeltaName(%q) = %s, %s, %v", tc.name, from, to, err)
		}
	}
}
