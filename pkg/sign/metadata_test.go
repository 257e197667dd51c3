package sign

import (
	"bytes"
	"testing"
)

func TestDetachedMetadataEdits(t *testing.T) {
	meta, err := SetDetachedSignatures(nil, "b", [][]byte{{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if meta, err = AppendDetachedSignature(meta, MetadataKeyEd25519, []byte{9}); err != nil {
		t.Fatal(err)
	}
	if meta, err = AppendDetachedSignature(meta, MetadataKeyEd25519, nil); err != nil {
		t.Fatal(err)
	}
	sigs, err := DetachedSignatures(meta, MetadataKeyEd25519)
	if err != nil || len(sigs) != 2 || !bytes.Equal(sigs[0], []byte{9}) || len(sigs[1]) != 0 {
		t.Fatalf("signatures %x, %v", sigs, err)
	}
	if sigs, err := DetachedSignatures(meta, "none"); sigs != nil || err != nil {
		t.Fatalf("a missing key: %x, %v", sigs, err)
	}
	// Replacing keeps the entry's place; removing keeps the others.
	again, err := SetDetachedSignatures(meta, "b", [][]byte{{1, 2}})
	if err != nil || !bytes.Equal(again, meta) {
		t.Fatalf("setting b to what it was: %x, %v; want %x", again, err, meta)
	}
	without, err := RemoveDetachedMetadataKey(meta, MetadataKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	only, _ := SetDetachedSignatures(nil, "b", [][]byte{{1, 2}})
	if !bytes.Equal(without, only) {
		t.Fatalf("removing: %x, want %x", without, only)
	}
	for _, bad := range [][]byte{{0}, {1, 2, 3}, append(bytes.Clone(meta), 0)} {
		if _, err := DetachedSignatures(bad, "b"); err == nil {
			t.Errorf("%x accepted as an a{sv} in normal form", bad)
		}
	}
}

// FuzzDetachedMetadata: any bytes are read without panic; an a{sv} whose
// key holds an aay is what setting the key to its own signatures writes.
func FuzzDetachedMetadata(f *testing.F) {
	m, _ := SetDetachedSignatures(nil, "k", [][]byte{{1}, {}})
	m2, _ := AppendDetachedSignature(m, "x", []byte("sig"))
	for _, seed := range [][]byte{nil, m, m2} {
		f.Add(seed, "k")
		f.Add(seed, "x")
	}
	f.Fuzz(func(t *testing.T, meta []byte, key string) {
		sigs, err := DetachedSignatures(meta, key)
		if err != nil || sigs == nil {
			return
		}
		again, err := SetDetachedSignatures(meta, key, sigs)
		if err != nil {
			t.Fatalf("%x: %v", meta, err)
		}
		if !bytes.Equal(again, meta) {
			t.Fatalf("%x with %s set to its own signatures became %x", meta, key, again)
		}
	})
}
