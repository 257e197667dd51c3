package benchgen

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// The remote repositories of `make bench-scale` (ci/bench-scale): an
// archive repository holding n refs with Flatpak-like names, each on a
// commit of its own (its subject, version and timestamp differ) of one
// shared small tree, made by the ostree CLI beforehand. The commits and
// refs are written straight into the repository's files, as libostree
// lays them out, which takes seconds for 100,000 refs where committing
// each through libostree would take many minutes.

// ScaleRef is the name of ref i of a scale repository and the collection
// it belongs to ("" for the repository's own refs): one in 10,000 is a
// mirrored collection-ref, of one of three collections.
func ScaleRef(i int) (collectionID, name string) {
	name = fmt.Sprintf("app/org.example.App%d/x86_64/stable", i)
	if i%10000 == 5 {
		return fmt.Sprintf("org.example.Mirror%d", i/10000%3), name
	}
	return "", name
}

// scaleCommit is the serialized commit of ref i: no parent, subject
// "App i", version "1.0.i", a timestamp i seconds after base, the shared
// root tree.
func scaleCommit(i int, base uint64, tree, meta object.Checksum) []byte {
	b := gvariant.NewBuilder(gvariant.MustParseType("(a{sv}aya(say)sstayay)"), binary.LittleEndian)
	b.Open()
	b.Open()
	b.Open()
	b.Str("version")
	b.OpenVariant(gvariant.MustParseType("s"))
	b.Str(fmt.Sprintf("1.0.%d", i))
	b.Close()
	b.Close()
	b.Close()
	b.Bytes(nil) // no parent
	b.Open()     // no related objects
	b.Close()
	b.Str(fmt.Sprintf("App %d", i))
	b.Str("")
	b.Uint64(bits.ReverseBytes64(base + uint64(i))) // big-endian, as libostree stores it
	b.Bytes(tree[:])
	b.Bytes(meta[:])
	b.Close()
	data, err := b.Finish()
	if err != nil {
		panic(err) // the types above are fixed
	}
	return data
}

// WriteScaleRepo writes n commits and their refs (ScaleRef) into the
// archive repository at repo, whose root tree (dirtree tree, dirmeta
// meta) is already there. It returns the commit of each ref.
func WriteScaleRepo(repo string, n int, tree, meta object.Checksum) ([]object.Checksum, error) {
	const base = 1700000000
	commits := make([]object.Checksum, n)
	made := map[string]bool{}
	mkdir := func(dir string) error {
		if made[dir] {
			return nil
		}
		made[dir] = true
		return os.MkdirAll(dir, 0o755)
	}
	for i := 0; i < n; i++ {
		data := scaleCommit(i, base, tree, meta)
		c := object.Checksum(sha256.Sum256(data))
		commits[i] = c
		hex := c.String()
		dir := filepath.Join(repo, "objects", hex[:2])
		if err := mkdir(dir); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, hex[2:]+".commit"), data, 0o644); err != nil {
			return nil, err
		}
		coll, name := ScaleRef(i)
		ref := filepath.Join(repo, "refs", "heads", name)
		if coll != "" {
			ref = filepath.Join(repo, "refs", "mirrors", coll, name)
		}
		if err := mkdir(filepath.Dir(ref)); err != nil {
			return nil, err
		}
		if err := os.WriteFile(ref, []byte(hex+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return commits, nil
}
