package libostree_test

import (
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/walk"
)

func TestValidateMetadata(t *testing.T) {
	sum := object.MustParseChecksum(strings.Repeat("ab", 32))
	good, err := (&walk.Dirtree{Files: []walk.Entry{{Name: "a", Sum: sum}}}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if err := libostree.ValidateMetadata(object.DirTree, good); err != nil {
		t.Fatalf("a valid dirtree: %v", err)
	}
	for _, name := range []string{"..", ".", "a/b"} {
		bad, err := (&walk.Dirtree{Files: []walk.Entry{{Name: name, Sum: sum}}}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		if err := libostree.ValidateMetadata(object.DirTree, bad); err == nil {
			t.Errorf("a dirtree with a file named %q passed", name)
		}
	}
	if err := libostree.ValidateMetadata(object.DirMeta, []byte{1, 2, 3}); err == nil {
		t.Error("three bytes passed as a dirmeta")
	}
	if err := libostree.ValidateMetadata(object.Commit, nil); err == nil {
		t.Error("an empty commit passed")
	}
	if err := libostree.ValidateMetadata(object.File, good); err == nil {
		t.Error("a file object was structure-checked")
	}
}
