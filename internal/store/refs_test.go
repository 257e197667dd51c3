package store

import (
	"slices"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/wire"
)

// TestDisjoint: patterns covered by others are dropped, so that a hostile
// REF_FILTER (the same prefix many times, or nested ones) reads each ref
// once.
func TestDisjoint(t *testing.T) {
	name := func(n string) wire.RefPattern { return wire.RefPattern{Ref: wire.RefName{Name: n}} }
	prefix := func(n string) wire.RefPattern { return wire.RefPattern{Ref: wire.RefName{Name: n}, Prefix: true} }
	coll := func(c, n string, p bool) wire.RefPattern {
		return wire.RefPattern{Ref: wire.RefName{CollectionID: c, Name: n}, Prefix: p}
	}
	for i, tc := range []struct{ in, want []wire.RefPattern }{
		{[]wire.RefPattern{name("main"), name("main")}, []wire.RefPattern{name("main")}},
		{[]wire.RefPattern{prefix("app/a/"), name("app/a/x"), prefix("app/"), prefix("app/"), name("apps"), name("app")},
			[]wire.RefPattern{prefix("app/"), name("apps"), name("app")}},
		{[]wire.RefPattern{prefix("a/"), prefix("a/b/"), prefix("a0/"), prefix("b/"), name("a0/x"), name("c")},
			[]wire.RefPattern{prefix("a/"), prefix("a0/"), prefix("b/"), name("c")}},
		{[]wire.RefPattern{prefix(""), prefix("x/"), name("y"), coll("org.example.A", "y", false), coll("org.example.A", "", true)},
			[]wire.RefPattern{prefix(""), coll("org.example.A", "", true)}},
		{[]wire.RefPattern{coll("org.example.A", "x/", true), name("x/y"), coll("org.example.A", "x/y", false)},
			[]wire.RefPattern{coll("org.example.A", "x/", true), name("x/y")}},
	} {
		if got := disjoint(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("#%d: disjoint(%v) = %v, want %v", i, tc.in, got, tc.want)
		}
	}
}
