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

// reportLines makes results lines: each of rows, a results line with R
// for the run and, in place of the wall time, W (walls[0] in run 1, ...).
func reportLines(rows []string, walls map[string][]string) []string {
	var lines []string
	for run := 1; run <= 3; run++ {
		for _, l := range rows {
			l = strings.Replace(l, "\tR\t", fmt.Sprintf("\t%d\t", run), 1)
			for name, w := range walls {
				l = strings.Replace(l, "\t"+name+"\t", "\t"+w[run-1]+"\t", 1)
			}
			lines = append(lines, l)
		}
	}
	return lines
}

func TestRenderReport(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "results.tsv")
	meta := filepath.Join(dir, "meta.tsv")
	md := filepath.Join(dir, "B.md")
	lines := reportLines([]string{
		"20000\tarchive\tfresh\tostree-push\tR\tPUSH\t3\t40000\t4\t50000\t110000000\tok",
		"20000\tarchive\tfresh\tpull-local\tR\t3\t2\t30000\t-1\t-1\t-1\tok",
		"20000\tarchive\tfresh\trsync\tR\t2.5\t1\t8000\t3.2\t9000\t109000000\tok",
		"20000\tarchive\tfresh\tdebian-push\tR\t33\t9\t30000\t9\t40000\t120000000\tok",
		"20000\tarchive\tfresh\tpush-from-bare-user\tR\t4.5\t5\t40000\t4\t70000\t115000000\tok",
		"20000\tarchive\tfresh\twrite-floor\tR\tFLOOR\t0.5\t3000\t-1\t-1\t-1\tok",
		"20000\tarchive\tfresh\tverify-1\tR\t1.2\t1.2\t9000\t-1\t-1\t-1\tok",
		"20000\tarchive\tfresh\tverify-2\tR\t0.7\t1.3\t9000\t-1\t-1\t-1\tok",
		"20000\tarchive\tincremental\tostree-push\tR\t0.5\t0.1\t20000\t0.1\t20000\t900000\tok",
		"20000\tarchive\tincremental\tpull-local\tR\t0.4\t0.1\t20000\t-1\t-1\t-1\tok",
		"20000\tarchive\tincremental\twrite-floor\tR\t0.1\t0.01\t3000\t-1\t-1\t-1\tok",
		"20000\tarchive\tnoop\tostree-push\tR\t0.3\t0.1\t20000\t0.1\t20000\t9000\tok",
		"20000\tbare-user\tfresh\tostree-push\tR\t4.4\t3\t40000\t4\t50000\t110000000\tok",
		"20000\tbare-user\tfresh\tpull-local\tR\t4\t3\t40000\t-1\t-1\t-1\tok",
		"20000\t-\t-\tssh-true\tR\t0.2\t0.01\t8000\t-1\t-1\t5000\tok",
		"5000\tarchive\tfresh\tostree-push\tR\t1.2\t1\t30000\t1\t30000\t30000000\tok",
		"5000\t-\t-\tssh-true\tR\t0.2\t0.01\t8000\t-1\t-1\t5000\tok",
	}, map[string][]string{"PUSH": {"5", "7", "6"}, "FLOOR": {"1.5", "9", "2"}})
	os.WriteFile(res, []byte("# header\n"+strings.Join(lines, "\n")+"\n"), 0o644)
	os.WriteFile(meta, []byte("20000\tobjects1\t21000\n20000\tarchive1\t108000000\n"+
		"20000\tobjects2\t500\n20000\tarchive2\t880000\n5000\tobjects1\t5000\n"), 0o644)
	os.WriteFile(md, []byte("# Benchmarks\n\nbefore\n"+BeginMarker+"\nold\n"+EndMarker+"\nafter\n"), 0o644)
	var out bytes.Buffer
	if err := RenderReport(ReportFiles{Results: res, Meta: meta}, []string{"runs=3"}, md, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// Ratio to pull-local, medians of the runs (5, 7, 6 → 6).
		"| archive | fresh | **2.00×** (6.00 s) | **1.50×** (4.50 s) | 3.00 s |",
		// Ratio to the write floor (1.5, 9, 2 → 2), archive only.
		"#### 20000 files: median wall time, ratio to the write floor (archive destination)",
		"| fresh | **3.00×** (6.00 s) | **2.25×** (4.50 s) | **1.50×** (3.00 s) | **1.25×** (2.50 s) | **16.50×** (33.00 s) | 2.00 s | **0.60×** (1.20 s) | **0.35×** (0.70 s) |",
		"| incremental | **5.00×** (0.50 s) | – | **4.00×** (0.40 s) | – | – | 0.10 s | – | – |",
		// Targets.
		"| fresh ≤ 1.0× pull-local | 2.00× (6.00 s vs 3.00 s) | **missed** |",
		"| fresh ≤ 1.0× rsync | 2.40× (6.00 s vs 2.50 s) | **missed** |",
		"| fresh ≥ 5× faster than Debian's ostree-push | 5.50× (33.00 s vs 6.00 s) | holds |",
		"| fresh, bare-user destination: ≤ 1.2× pull-local (into bare-user) | 1.10× (4.40 s vs 4.00 s) | holds |",
		"| fresh from a bare-user source (push-from-bare-user): ≤ 1.4× pull-local | 1.50× (4.50 s vs 3.00 s) | **missed** |",
		"| incremental ≤ 1.0× pull-local | 1.25× (0.50 s vs 0.40 s) | **missed** |",
		"| no-op ≤ ssh HOST true + 0.05 s | +0.100 s (0.300 s vs 0.200 s) | **missed** |",
		"| receiver CPU, fresh: ≤ 1.3× rsync's server CPU | 1.25× (4.00 s vs 3.20 s) | holds |",
		"| fresh: wire ≤ 1.05× archive bytes sent (net of the ssh handshake) | 1.018× (1.019× with the handshake) | holds |",
		"| fresh: wire ≤ 1.10× archive bytes sent (from a bare-user source) (net of the ssh handshake) | 1.065× (1.065× with the handshake) | holds |",
		"| incremental: wire ≤ 1.10× archive bytes sent (from a bare-user source) (net of the ssh handshake) | – | not measured |",
		"| peak RSS ≤ 64 MiB each side (20000 files, any mode and case) | client 39 MiB, server 68 MiB | **missed** |",
		// (6 − 0.2) / 21000 = 276 µs against (1.2 − 0.2) / 5000 = 200 µs.
		"| growth: fresh µs per object, (wall − ssh HOST true) / objects of the first commit, at 20000 files ≤ 1.2× at 5000 files | 1.38× (276 µs vs 200 µs) | **missed** |",
		"1.019 (1.018)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// The incremental wire of ostree-push: (900000 − 5000) / 880000.
	if !strings.Contains(out.String(), "| incremental: wire ≤ 1.05× archive bytes sent (net of the ssh handshake) | 1.017× (1.023× with the handshake) | holds |") {
		t.Errorf("report lacks the incremental wire row:\n%s", out.String())
	}
	got, _ := os.ReadFile(md)
	if s := string(got); !strings.Contains(s, "before\n"+BeginMarker) || strings.Contains(s, "\nold\n") ||
		!strings.HasSuffix(s, EndMarker+"\nafter\n") || !strings.Contains(s, "holds") {
		t.Errorf("markdown file after the report:\n%s", s)
	}
}

// TestRenderReportOneSize: growth is not measured with one size, and a
// run without the write floor has no floor table; the targets that hold
// say so.
func TestRenderReportOneSize(t *testing.T) {
	results, err := ReadResults(strings.NewReader(strings.Join(reportLines([]string{
		"5000\tarchive\tfresh\tostree-push\tR\t1\t1\t30000\t1\t30000\t30000000\tok",
		"5000\tarchive\tfresh\tpull-local\tR\t1.1\t1\t30000\t-1\t-1\t-1\tok",
		"5000\tarchive\tnoop\tostree-push\tR\tNOOP\t0.1\t60000\t0.1\t20000\t9000\tok",
		"5000\t-\t-\tssh-true\tR\t0.2\t0.01\t8000\t-1\t-1\t5000\tok",
	}, map[string][]string{"NOOP": {"0.24", "0.3", "0.2"}}), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Render(&out, results, Meta{5000: {"objects1": 5000}}, nil, nil)
	for _, want := range []string{
		"| fresh ≤ 1.0× pull-local | 0.91× (1.00 s vs 1.10 s) | holds |",
		"| no-op ≤ ssh HOST true + 0.05 s | +0.040 s (0.240 s vs 0.200 s) | holds |",
		"| peak RSS ≤ 64 MiB each side (5000 files, any mode and case) | client 59 MiB, server 29 MiB | holds |",
		"| growth: fresh µs per object, (wall − ssh HOST true) / objects of the first commit, at the largest size ≤ 1.2× at the smallest | – | not measured |",
		"| fresh ≤ 1.0× rsync | – | not measured |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "write floor") {
		t.Errorf("a floor table without the write floor:\n%s", out.String())
	}
}
