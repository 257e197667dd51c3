package benchgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestWriteScaleRepo: the generated repository is one libostree reads as
// it should, checked with the ostree CLI: fsck, the refs and collection
// refs, a summary.
func TestWriteScaleRepo(t *testing.T) {
	testrepo.RequireTools(t)
	repo := filepath.Join(t.TempDir(), "repo")
	testrepo.Init(t, repo, "archive")
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "README"), []byte("shared\n"), 0o644)
	testrepo.Commit(t, repo, "base", tree, "base")
	f := strings.Fields(testrepo.Ostree(t, "ls", "--repo="+repo, "-C", "-d", "base", "/"))
	if len(f) < 6 {
		t.Fatalf("ostree ls: %q", f)
	}
	n := 12 // ref 5 is a mirrored collection-ref
	commits, err := WriteScaleRepo(repo, n, object.MustParseChecksum(f[4]), object.MustParseChecksum(f[5]))
	if err != nil {
		t.Fatal(err)
	}
	testrepo.Fsck(t, repo)
	for _, i := range []int{0, 5, 11} {
		coll, name := ScaleRef(i)
		rev := name
		if coll != "" {
			got := testrepo.Ostree(t, "refs", "--repo="+repo, "--collections")
			if !strings.Contains(got, "("+coll+", "+name+")") {
				t.Errorf("ref %d: (%s, %s) not among the collection refs", i, coll, name)
			}
			continue
		}
		if got := testrepo.RevParse(t, repo, rev); got != commits[i].String() {
			t.Errorf("ref %d: %s is %s, want %s", i, rev, got, commits[i])
		}
	}
	if show := testrepo.Ostree(t, "show", "--repo="+repo, commits[7].String()); !strings.Contains(show, "App 7") {
		t.Errorf("commit 7:\n%s", show)
	}
	testrepo.Ostree(t, "summary", "-u", "--repo="+repo)
	if view := testrepo.Ostree(t, "summary", "--view", "--repo="+repo); strings.Count(view, "* ") != n+1 {
		t.Errorf("the summary lists %d refs, want %d", strings.Count(view, "* "), n+1)
	}
}

func TestRenderScale(t *testing.T) {
	var tsv strings.Builder
	tsv.WriteString("# refs\tcase\trun\tmetric\tseconds\n")
	for _, refs := range []int{1000, 100000} {
		for run := 1; run <= 3; run++ {
			slow := 0.0
			if refs == 100000 {
				slow = 0.4
			}
			for _, l := range []string{
				fmt.Sprintf("%d\tssh-true\t%d\twall\t0.300", refs, run),
				fmt.Sprintf("%d\tnoop\t%d\twall\t%.3f", refs, run, 0.35+slow/10),
				fmt.Sprintf("%d\tnew-ref\t%d\twall\t%.3f", refs, run, 0.5+slow),
				fmt.Sprintf("%d\tnew-ref\t%d\tphase:after commit (summary, static deltas)\t%.3f", refs, run, 0.1+slow),
			} {
				tsv.WriteString(l + "\n")
			}
		}
	}
	results, err := ReadScaleResults(strings.NewReader(tsv.String()))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	RenderScale(&out, results, []string{"date=today"})
	got := out.String()
	for _, want := range []string{
		"- date: today",
		"| noop ≤ ssh HOST true + 0.10 s | +0.090 s (0.390 s vs 0.300 s) | holds |",
		"| new-ref ≤ ssh HOST true + 0.50 s | +0.600 s (0.900 s vs 0.300 s) | **missed** |",
		"| new-ref at 100000 refs ≤ 1.5× at 1000 | 1.80× | **missed** |",
		"| ~50-object commit to a new ref, summary updated | 0.500 s (+0.200 s) | 0.900 s (+0.600 s, 1.80×) |",
		"| 100000 | new-ref | – | – | – | – | 500 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if _, err := ReadScaleResults(strings.NewReader("1000\tnoop\t1\twall\n")); err == nil {
		t.Errorf("a line of 4 fields was read")
	}
}

func TestScalePhases(t *testing.T) {
	log := `ostree-receive: DEBUG: read config /x.conf
remote: ostree-receive: DEBUG: transaction and negotiation: 1.5ms
ostree-receive: DEBUG: objects (50): 9ms
ostree-receive: DEBUG: completeness check: 0s
ostree-receive: DEBUG: ref decisions and transaction commit: 2.968s
ostree-receive: DEBUG: after commit (summary, static deltas): 1m5.5s
ostree-receive: DEBUG: summary updated (ostree)
`
	got, err := ScalePhases(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"transaction and negotiation\t0.0015", "objects\t0.0090", "completeness check\t0.0000",
		"ref decisions and transaction commit\t2.9680", "after commit (summary, static deltas)\t65.5000"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ScalePhases = %q, want %q", got, want)
	}
}
