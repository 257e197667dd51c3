package benchgen

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, Files: 3000}
	a, b := Generate(cfg), Generate(cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generations with the same seed differ")
	}
	a2, ach := Version2(cfg)
	b2, bch := Version2(cfg)
	if !reflect.DeepEqual(a2, b2) || !reflect.DeepEqual(ach, bch) {
		t.Fatal("two second versions with the same seed differ")
	}
	if c := Generate(Config{Seed: 43, Files: 3000}); reflect.DeepEqual(a.Entries, c.Entries) {
		t.Fatal("different seeds gave the same tree")
	}
	for _, e := range a.Entries[:200] {
		if e.Kind == Symlink {
			continue
		}
		dirty := bytes.Repeat([]byte{0x55}, int(e.Content.Size)+7)
		if !bytes.Equal(e.Content.Bytes(nil), e.Content.Bytes(dirty)) {
			t.Fatalf("%s: content differs between two renderings", e.Path)
		}
	}
}

func near(t *testing.T, what string, got int, want float64, tol float64) {
	t.Helper()
	if math.Abs(float64(got)-want) > tol {
		t.Errorf("%s: %d, want %.0f ± %.0f", what, got, want, tol)
	}
}

func TestMix(t *testing.T) {
	const n = 20000
	tr := Generate(Config{Seed: 1, Files: n})
	s := tr.Stats()
	if s.Entries != n {
		t.Fatalf("%d entries, want %d", s.Entries, n)
	}
	near(t, "large", s.Large, n*LargeFraction, 1)
	near(t, "symlinks", s.Symlinks, n*SymlinkFraction, 1)
	near(t, "duplicates", s.Duplicates, n*DupFraction, 1)
	// Duplicates copy their source's mode, so a few more executables.
	near(t, "executable", s.Executable, n*(ExecFraction+DupFraction*ExecFraction), n*0.005)
	small := float64(n) * (1 - LargeFraction - SymlinkFraction - DupFraction)
	near(t, "empty", s.Empty, small*EmptyFraction, n*0.002)
	near(t, "text", s.Text, (small+n*DupFraction)*TextFraction, n*0.01)
	near(t, "dirs", s.Dirs, n/FilesPerDir, 1)
	if s.MaxDepth != MaxDepth {
		t.Errorf("deepest directory %d, want %d", s.MaxDepth, MaxDepth)
	}
	if s.UniqueData > s.Regular-s.Duplicates+5 {
		t.Errorf("%d unique contents for %d regular files of which %d duplicates", s.UniqueData, s.Regular, s.Duplicates)
	}
	seen := map[string]bool{}
	for _, e := range tr.Entries {
		if seen[e.Path] {
			t.Fatalf("duplicate path %s", e.Path)
		}
		seen[e.Path] = true
		switch {
		case e.Kind == Large && (e.Content.Size < LargeMin || e.Content.Size > LargeMax):
			t.Errorf("%s: large file of %d bytes", e.Path, e.Content.Size)
		case (e.Kind == Text || e.Kind == Binary) && e.Content.Size > SmallMax:
			t.Errorf("%s: small file of %d bytes", e.Path, e.Content.Size)
		case e.Kind == Symlink && (e.Target == "" || strings.HasPrefix(e.Target, "/")):
			t.Errorf("%s: symlink target %q", e.Path, e.Target)
		}
	}
	v2, ch := Version2(Config{Seed: 1, Files: n})
	changes := len(ch.Modified) + len(ch.Added) + len(ch.Removed)
	near(t, "changes", changes, n*ChangeFraction, 1)
	near(t, "version 2 entries", len(v2.Entries), float64(n+len(ch.Added)-len(ch.Removed)), 0)
}

// TestContentCompresses checks that text-like content compresses well and
// binary-like content about half way.
func TestContentCompresses(t *testing.T) {
	ratio := func(c Content) float64 {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write(c.Bytes(nil))
		z.Close()
		return float64(b.Len()) / float64(c.Size)
	}
	if r := ratio(Content{Text: true, Size: 1 << 18, Seed: 5}); r < 0.2 || r > 0.5 {
		t.Errorf("text compresses to %.2f, want 0.2–0.5", r)
	}
	if r := ratio(Content{Size: 1 << 18, Seed: 5}); r < 0.4 || r > 0.8 {
		t.Errorf("binary compresses to %.2f, want 0.4–0.8", r)
	}
}

// TestWriteUpdate writes a small tree, updates it to version 2, and
// compares the result with version 2 written afresh.
func TestWriteUpdate(t *testing.T) {
	cfg := Config{Seed: 3, Files: 300}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := Generate(cfg).Write(a); err != nil {
		t.Fatal(err)
	}
	v2, _ := Version2(cfg)
	if err := Update(a, Generate(cfg), v2); err != nil {
		t.Fatal(err)
	}
	if err := v2.Write(b); err != nil {
		t.Fatal(err)
	}
	x, y := strings.Split(listing(t, a), "\n"), strings.Split(listing(t, b), "\n")
	for i := range max(len(x), len(y)) {
		if i >= len(x) || i >= len(y) || x[i] != y[i] {
			t.Fatalf("updated tree differs from version 2 written afresh at line %d:\n%q\n%q", i, x[i:min(i+3, len(x))], y[i:min(i+3, len(y))])
		}
	}
}

// listing describes every file under root: path, mode, size or target,
// and content.
func listing(t *testing.T, root string) string {
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b.WriteString(rel + " " + fi.Mode().String())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			tgt, _ := os.Readlink(p)
			b.WriteString(" -> " + tgt)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %d %x", len(data), sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRenderReport(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "results.tsv")
	meta := filepath.Join(dir, "meta.tsv")
	md := filepath.Join(dir, "B.md")
	var lines []string
	for run := 1; run <= 3; run++ {
		for _, l := range []string{
			"20000\tarchive\tfresh\tostree-push\tR\t6\t3\t40000\t4\t50000\t110000000\tok",
			"20000\tarchive\tfresh\tpull-local\tR\t3\t2\t30000\t-1\t-1\t-1\tok",
			"20000\tarchive\tfresh\trsync\tR\t2.5\t1\t8000\t1\t9000\t109000000\tok",
			"20000\tarchive\tnoop\tostree-push\tR\t0.3\t0.1\t20000\t0.1\t20000\t9000\tok",
			"20000\t-\t-\tssh-true\tR\t0.2\t0.01\t8000\t-1\t-1\t5000\tok",
		} {
			lines = append(lines, strings.Replace(l, "\tR\t", "\t"+string(rune('0'+run))+"\t", 1))
		}
	}
	os.WriteFile(res, []byte("# header\n"+strings.Join(lines, "\n")+"\n"), 0o644)
	os.WriteFile(meta, []byte("20000\tobjects1\t21000\n20000\tarchive1\t108000000\n"), 0o644)
	os.WriteFile(md, []byte("# Benchmarks\n\nbefore\n"+BeginMarker+"\nold\n"+EndMarker+"\nafter\n"), 0o644)
	var out bytes.Buffer
	if err := RenderReport(res, meta, []string{"runs=3"}, md, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**2.00×** (6.00 s)", "fresh ≤ 2× pull-local | 2.00× | holds",
		"fresh ≤ 2× rsync | 2.40× | **missed**", "+0.100 s", "1.019", "1.019 (1.018)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	got, _ := os.ReadFile(md)
	if s := string(got); !strings.Contains(s, "before\n"+BeginMarker) || strings.Contains(s, "\nold\n") ||
		!strings.HasSuffix(s, EndMarker+"\nafter\n") || !strings.Contains(s, "holds") {
		t.Errorf("markdown file after the report:\n%s", s)
	}
}
