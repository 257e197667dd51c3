package summary

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// testSummary builds a summary as libostree lays one out: refs, then the
// metadata keys of a repository in archive mode without collection ID.
func testSummary(t testing.TB, entries []Entry, withMap bool) []byte {
	t.Helper()
	b := gvariant.NewBuilder(summaryType, order)
	b.Open()
	b.Open()
	for _, e := range entries {
		e.encode(b)
	}
	b.Close()
	b.Open()
	put := func(k string, typ string, f func()) {
		b.Open()
		b.Str(k)
		b.OpenVariant(gvariant.MustParseType(typ))
		f()
		b.Close()
		b.Close()
	}
	put(KeyMode, "s", func() { b.Str("archive-z2") })
	put(KeyLastModified, "t", func() { b.Uint64(12345) })
	put(KeyTombstones, "b", func() { b.Bool(false) })
	put(KeyIndexedDeltas, "b", func() { b.Bool(true) })
	if withMap {
		put(KeyCollectionMap, "a{sa(s(taya{sv}))}", func() {
			b.Open()
			b.Open()
			b.Str("org.example.Mirror")
			b.Open()
			entries[0].encode(b)
			b.Close()
			b.Close()
			b.Close()
		})
	}
	b.Close()
	b.Close()
	data, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func csum(b byte) object.Checksum {
	var c object.Checksum
	c[0], c[31] = b, b
	return c
}

var testRepo = Repo{Mode: "archive-z2"}

func TestDeriveMerges(t *testing.T) {
	e := func(name string, b byte) Entry {
		return Entry{Name: name, CommitSize: 100 + uint64(b), Commit: csum(b), Timestamp: 1700000000 + uint64(b), HasTimestamp: true}
	}
	old := testSummary(t, []Entry{e("a", 1), e("c", 2), e("e", 3)}, false)
	changes := []Change{
		{Name: "e", From: csum(3)},                     // deleted
		{Name: "b", To: ptr(e("b", 4))},                // created before c
		{Name: "c", From: csum(2), To: ptr(e("c", 5))}, // moved
		{Name: "z", To: ptr(e("z", 6))},                // created at the end
	}
	got, err := Derive(old, testRepo, changes, 999)
	if err != nil {
		t.Fatal(err)
	}
	want := testSummary(t, []Entry{e("a", 1), e("b", 4), e("c", 5), e("z", 6)}, false)
	if eq, err := Equal(got, want); err != nil || !eq {
		t.Errorf("Derive:\n%s\nwant:\n%s", gvariant.NewValue(summaryType, got, order), gvariant.NewValue(summaryType, want, order))
	}
	for i, bad := range [][]Change{
		{{Name: "c", From: csum(9), To: ptr(e("c", 5))}},                 // the summary says otherwise
		{{Name: "q", From: csum(9)}},                                     // not listed
		{{CollectionID: "org.example.X", Name: "q", To: ptr(e("q", 1))}}, // no collection map yet
	} {
		var under *UnderivableError
		if _, err := Derive(old, testRepo, bad, 999); !errors.As(err, &under) {
			t.Errorf("#%d: Derive = %v, want an UnderivableError", i, err)
		}
	}
	if _, err := Derive(old, Repo{Mode: "bare"}, nil, 1); err == nil {
		t.Errorf("Derive for another mode succeeded")
	}
}

func ptr(e Entry) *Entry { return &e }

// FuzzDerive: whatever the previous summary holds, Derive does not panic,
// and what it returns is a summary in normal form.
func FuzzDerive(f *testing.F) {
	e := Entry{Name: "main", CommitSize: 300, Commit: csum(1), Timestamp: 1700000000, HasTimestamp: true, Version: "1.0", HasVersion: true}
	f.Add(testSummary(f, []Entry{e}, false))
	f.Add(testSummary(f, []Entry{e}, true))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, old []byte) {
		moved := Entry{Name: "main", CommitSize: 1, Commit: csum(2)}
		for _, ch := range [][]Change{
			{{Name: "main", From: csum(1), To: &moved}},
			{{CollectionID: "org.example.Mirror", Name: "main", From: csum(1)}},
		} {
			out, err := Derive(old, testRepo, ch, 5)
			if err != nil {
				continue
			}
			// Entries not touched are copied as they are: a summary in
			// normal form (as libostree writes them) stays so.
			v, was := gvariant.NewValue(summaryType, out, order), gvariant.NewValue(summaryType, old, order)
			if err := v.CheckNormal(); err != nil && was.CheckNormal() == nil {
				t.Fatalf("Derive wrote a summary not in normal form: %v", err)
			}
			if err := v.Validate(); err != nil && was.Validate() == nil {
				t.Fatalf("Derive wrote a summary that cannot be read: %v", err)
			}
			if bytes.Equal(out, old) {
				t.Fatalf("Derive changed nothing")
			}
		}
	})
}

// BenchmarkDerive100k: one ref moved in a summary of 100,000 refs.
func BenchmarkDerive100k(b *testing.B) {
	var entries []Entry
	for i := 0; i < 100_000; i++ {
		entries = append(entries, Entry{Name: fmt.Sprintf("app/org.example.App%06d/x86_64/stable", i), CommitSize: 400,
			Commit: csum(byte(i)), Timestamp: 1700000000, HasTimestamp: true})
	}
	old := testSummary(b, entries, false)
	moved := entries[50_000]
	moved.Commit = csum(7)
	changes := []Change{{Name: moved.Name, From: entries[50_000].Commit, To: &moved}}
	b.SetBytes(int64(len(old)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Derive(old, testRepo, changes, 5); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRefs(t *testing.T) {
	entries := []Entry{{Name: "a", Commit: csum(1), CommitSize: 10}, {Name: "b/c", Commit: csum(2), CommitSize: 20, HasTimestamp: true, Timestamp: 7}}
	got, err := Refs(testSummary(t, entries, true))
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{{"a", csum(1)}, {"b/c", csum(2)}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Refs = %v, want %v (the collection map's refs left out)", got, want)
	}
	if _, err := Refs([]byte("not a summary at all")); err == nil {
		t.Fatal("garbage read as a summary")
	}
}

func TestWrite(t *testing.T) {
	entries := []Entry{{Name: "b", Commit: csum(2), CommitSize: 5}, {Name: "a", Commit: csum(1), CommitSize: 9, HasTimestamp: true, Timestamp: 3}}
	data, err := Write(entries, "archive-z2", 42)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Refs(data)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint([]Ref{{"a", csum(1)}, {"b", csum(2)}}) {
		t.Fatalf("Refs(Write) = %v", got)
	}
	if n, err := RefCount(data); err != nil || n != 2 {
		t.Fatalf("RefCount = %d, %v", n, err)
	}
	if _, err := Write([]Entry{entries[0], entries[0]}, "archive-z2", 0); err == nil {
		t.Fatal("a ref twice accepted")
	}
}
