package sign

import "testing"

// TestFingerprint: signatures are told apart by key and bytes, the other
// entries by their bytes; Covers ignores order and extra signatures, Same
// does not.
func TestFingerprint(t *testing.T) {
	meta := func(add func([]byte) []byte) []byte {
		t.Helper()
		var m []byte
		return add(m)
	}
	put := func(m []byte, key, sig string) []byte {
		t.Helper()
		m, err := AppendDetachedSignature(m, key, []byte(sig))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fp := func(m []byte) Fingerprint {
		t.Helper()
		f, err := FingerprintOf(m)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := fp(meta(func(m []byte) []byte { return put(m, MetadataKeyGPG, "a") }))
	ab := fp(meta(func(m []byte) []byte { return put(put(m, MetadataKeyGPG, "a"), MetadataKeyGPG, "b") }))
	ba := fp(meta(func(m []byte) []byte { return put(put(m, MetadataKeyGPG, "b"), MetadataKeyGPG, "a") }))
	aEd := fp(meta(func(m []byte) []byte { return put(m, MetadataKeyEd25519, "a") }))
	aOther := fp(meta(func(m []byte) []byte { return put(put(m, MetadataKeyGPG, "a"), "org.example.other", "x") }))
	none := fp(nil)
	for _, tc := range []struct {
		name         string
		f, g         Fingerprint
		covers, same bool
	}{
		{"itself", ab, ab, true, true},
		{"a subset", ab, a, true, false},
		{"another order", ab, ba, true, false},
		{"a superset", a, ab, false, false},
		{"another key", a, aEd, false, false},
		{"another entry", a, aOther, false, false},
		{"nothing", a, none, true, false},
		{"empty", none, none, true, true},
	} {
		if got := tc.f.Covers(tc.g); got != tc.covers {
			t.Errorf("%s: Covers = %v", tc.name, got)
		}
		if got := tc.f.Same(tc.g); got != tc.same {
			t.Errorf("%s: Same = %v", tc.name, got)
		}
	}
	if _, err := FingerprintOf([]byte("not a dictionary")); err == nil {
		t.Errorf("FingerprintOf(garbage) succeeded")
	}
}
