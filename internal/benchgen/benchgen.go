package benchgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"sort"
	"strings"
)

// Proportions of the mix (fractions of Config.Files).
const (
	LargeFraction   = 0.015
	SymlinkFraction = 0.04
	DupFraction     = 0.03
	ExecFraction    = 0.05
	EmptyFraction   = 0.01  // of the small regular files
	TextFraction    = 0.6   // of the small regular files (the rest is binary-like)
	ChangeFraction  = 0.01  // of the files, in the second version
	FilesPerDir     = 12    // about one directory per this many files
	MaxDepth        = 8     // deepest directory: this many path components
	SmallMax        = 16384 // largest small file, bytes
	SmallMinNonzero = 32    // smallest non-empty small file, bytes
	LargeMin        = 100 << 10
	LargeMax        = 2 << 20
	DefaultFiles    = 20000
)

// Kind is what an entry is.
type Kind uint8

const (
	Text    Kind = iota // small text-like regular file
	Binary              // small binary-like regular file
	Large               // large regular file (100 KiB–2 MiB)
	Symlink             // symbolic link
)

func (k Kind) String() string {
	switch k {
	case Text:
		return "text"
	case Binary:
		return "binary"
	case Large:
		return "large"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Content says how a regular file's bytes are made: Text or binary-like,
// Size bytes from Seed. Two entries with the same Content have the same
// bytes.
type Content struct {
	Text bool
	Size int64
	Seed uint64
}

// Entry is one file or symlink of a tree.
type Entry struct {
	Path    string // slash-separated, relative to the tree's root
	Kind    Kind
	Mode    uint32 // permission bits: 0644 or 0755 (0777 for symlinks)
	Content Content
	Target  string // symlinks only
	Dup     bool   // a regular file whose content and mode copy another's
}

// Tree is one version of a generated tree.
type Tree struct {
	Seed    int64
	Version int      // 1, or 2 for the changed version
	Dirs    []string // every directory but the root, parents before children
	Entries []Entry  // sorted by Path
}

// Config selects a tree.
type Config struct {
	Seed  int64
	Files int // number of entries (files and symlinks); DefaultFiles when 0
}

// Changes lists what the second version changed, by path.
type Changes struct {
	Modified, Added, Removed []string
}

// gen is the shared state of one generation.
type gen struct {
	r    *rand.Rand
	next int // name counter: keeps every name unique
}

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream^0x9e3779b97f4a7c15))
}

// count rounds n*f to the nearest integer.
func count(n int, f float64) int { return int(math.Round(float64(n) * f)) }

// Generate describes version 1 of the tree cfg selects.
func Generate(cfg Config) *Tree {
	n := cfg.Files
	if n <= 0 {
		n = DefaultFiles
	}
	g := &gen{r: newRand(cfg.Seed, 1)}
	t := &Tree{Seed: cfg.Seed, Version: 1}
	t.Dirs = g.dirs(max(1, n/FilesPerDir))

	// Kinds by exact counts, shuffled.
	nLarge, nSym, nDup := count(n, LargeFraction), count(n, SymlinkFraction), count(n, DupFraction)
	nSmall := n - nLarge - nSym - nDup
	if nSmall < 1 {
		nLarge, nSym, nDup, nSmall = 0, 0, 0, n
	}
	const dupKind = Kind(255)
	kinds := make([]Kind, 0, n)
	for range nLarge {
		kinds = append(kinds, Large)
	}
	for range nSym {
		kinds = append(kinds, Symlink)
	}
	for range nDup {
		kinds = append(kinds, dupKind)
	}
	nText := count(nSmall, TextFraction)
	for i := range nSmall {
		if i < nText {
			kinds = append(kinds, Text)
		} else {
			kinds = append(kinds, Binary)
		}
	}
	g.r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	nEmpty := count(nSmall, EmptyFraction)

	entries := make([]Entry, n)
	var small []int // indexes of small regular files (not duplicates)
	for i, k := range kinds {
		e := &entries[i]
		e.Path = g.filePath(t.Dirs, k)
		e.Kind, e.Mode = k, 0o644
		switch k {
		case Large:
			e.Content = Content{Text: g.r.IntN(2) == 0, Size: logUniform(g.r, LargeMin, LargeMax), Seed: g.r.Uint64()}
		case Text, Binary:
			size := logUniform(g.r, SmallMinNonzero, SmallMax)
			if nEmpty > 0 && len(small) < nSmall && g.r.IntN(nSmall-len(small)) < nEmpty {
				size = 0
				nEmpty--
			}
			e.Content = Content{Text: k == Text, Size: size, Seed: g.r.Uint64()}
			small = append(small, i)
		}
	}
	// Executables: exactly ExecFraction of all entries, among the small
	// regular files.
	nExec := min(count(n, ExecFraction), len(small))
	for _, j := range g.r.Perm(len(small))[:nExec] {
		entries[small[j]].Mode = 0o755
	}
	// Duplicates and symlinks point at files made above.
	for i := range entries {
		e := &entries[i]
		switch e.Kind {
		case dupKind:
			if len(small) == 0 {
				e.Kind, e.Content = Text, Content{Text: true, Size: 100, Seed: g.r.Uint64()}
				continue
			}
			src := entries[small[g.r.IntN(len(small))]]
			e.Kind, e.Mode, e.Content, e.Dup = src.Kind, src.Mode, src.Content, true
		case Symlink:
			e.Mode = 0o777
			e.Target = g.target(entries, small, e.Path)
		}
	}
	sortEntries(entries)
	t.Entries = entries
	return t
}

// Version2 describes the second version of the tree cfg selects:
// Generate(cfg) with ChangeFraction of its files changed: 60% of the
// changes modify a regular file's content (its size stays within its
// class), 20% add a file, 20% remove one.
func Version2(cfg Config) (*Tree, Changes) {
	v1 := Generate(cfg)
	n := len(v1.Entries)
	g := &gen{r: newRand(cfg.Seed, 2), next: n + len(v1.Dirs) + 1}
	nChange := max(1, count(n, ChangeFraction))
	nMod := count(nChange, 0.6)
	nAdd := count(nChange, 0.2)
	nRem := nChange - nMod - nAdd
	if nRem < 0 || nMod+nRem > n {
		nMod, nAdd, nRem = min(nChange, n), 0, 0
	}

	var ch Changes
	entries := append([]Entry(nil), v1.Entries...)
	perm := g.r.Perm(n)
	touched := make(map[int]bool)
	// Modify regular files.
	for _, i := range perm {
		if len(ch.Modified) == nMod {
			break
		}
		e := &entries[i]
		if e.Kind == Symlink {
			continue
		}
		switch e.Kind {
		case Large:
			e.Content.Size = logUniform(g.r, LargeMin, LargeMax)
		default:
			if e.Content.Size > 0 {
				e.Content.Size = max(SmallMinNonzero, min(SmallMax, e.Content.Size+int64(g.r.IntN(257))-128))
			}
		}
		e.Content.Seed = g.r.Uint64()
		e.Dup = false
		touched[i] = true
		ch.Modified = append(ch.Modified, e.Path)
	}
	// Remove others.
	removed := make(map[int]bool)
	for _, i := range perm {
		if len(ch.Removed) == nRem {
			break
		}
		if touched[i] {
			continue
		}
		removed[i] = true
		ch.Removed = append(ch.Removed, entries[i].Path)
	}
	kept := entries[:0]
	for i, e := range entries {
		if !removed[i] {
			kept = append(kept, e)
		}
	}
	entries = kept
	// Add small files (a few executable) in existing directories.
	for range nAdd {
		k := Text
		if g.r.Float64() >= TextFraction {
			k = Binary
		}
		e := Entry{Path: g.filePath(v1.Dirs, k), Kind: k, Mode: 0o644,
			Content: Content{Text: k == Text, Size: logUniform(g.r, SmallMinNonzero, SmallMax), Seed: g.r.Uint64()}}
		if g.r.Float64() < ExecFraction {
			e.Mode = 0o755
		}
		entries = append(entries, e)
		ch.Added = append(ch.Added, e.Path)
	}
	sortEntries(entries)
	sort.Strings(ch.Modified)
	sort.Strings(ch.Added)
	sort.Strings(ch.Removed)
	return &Tree{Seed: cfg.Seed, Version: 2, Dirs: v1.Dirs, Entries: entries}, ch
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
}

// logUniform draws an integer in [lo, hi] whose logarithm is uniform.
func logUniform(r *rand.Rand, lo, hi int64) int64 {
	v := int64(math.Exp(math.Log(float64(lo)) + r.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))))
	return min(hi, max(lo, v))
}

var dirWords = []string{"usr", "lib", "share", "bin", "etc", "doc", "include", "locale",
	"python3", "dist-packages", "systemd", "system", "icons", "hicolor", "scalable",
	"apps", "man", "man1", "fonts", "truetype", "modules", "kernel", "drivers", "net",
	"gtk", "themes", "plugins", "x86_64-linux-gnu", "perl5", "vendor", "data", "conf.d"}

var fileWords = []string{"libfoo", "config", "README", "index", "main", "util", "module",
	"widget", "parser", "client", "server", "helper", "test", "data", "icon", "locale",
	"settings", "core", "common", "types", "stream", "buffer", "table", "schema"}

var textExt = []string{".txt", ".py", ".h", ".c", ".conf", ".json", ".xml", ".md", ".desktop", ".service"}
var binExt = []string{".so", ".png", ".mo", ".gz", ".pyc", ".ko", ".bin", ""}

// dirs makes n directories nested at most MaxDepth deep; the first
// MaxDepth-1 after the top-level ones form a chain that reaches MaxDepth.
func (g *gen) dirs(n int) []string {
	type dir struct {
		path  string
		depth int
	}
	top := min(n, 6)
	ds := make([]dir, 0, n)
	add := func(parent dir) dir {
		g.next++
		name := fmt.Sprintf("%s-%d", dirWords[g.r.IntN(len(dirWords))], g.next)
		d := dir{path: name, depth: 1}
		if parent.path != "" {
			d = dir{path: parent.path + "/" + name, depth: parent.depth + 1}
		}
		ds = append(ds, d)
		return d
	}
	for range top {
		add(dir{})
	}
	// The deep chain.
	last := ds[0]
	for len(ds) < n && last.depth < MaxDepth {
		last = add(last)
	}
	// The rest: a random parent among the existing directories that are
	// not yet MaxDepth deep (or the root, now and then).
	for len(ds) < n {
		p := ds[g.r.IntN(len(ds))]
		if g.r.IntN(20) == 0 {
			p = dir{}
		}
		if p.depth >= MaxDepth {
			continue
		}
		add(p)
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.path
	}
	return out
}

// filePath picks a directory (skewed towards the first ones, as real trees
// have a few large directories) and a unique name.
func (g *gen) filePath(dirs []string, k Kind) string {
	u := g.r.Float64()
	d := dirs[int(u*u*float64(len(dirs)))]
	g.next++
	var ext string
	switch k {
	case Text:
		ext = textExt[g.r.IntN(len(textExt))]
	case Binary, Large:
		ext = binExt[g.r.IntN(len(binExt))]
	}
	return fmt.Sprintf("%s/%s-%d%s", d, fileWords[g.r.IntN(len(fileWords))], g.next, ext)
}

// target makes a relative symlink target from link to a random small file.
func (g *gen) target(entries []Entry, small []int, link string) string {
	if len(small) == 0 {
		return "missing"
	}
	to := entries[small[g.r.IntN(len(small))]].Path
	return relPath(path.Dir(link), to)
}

// relPath is the relative path from directory from to file to.
func relPath(from, to string) string {
	fs, ts := strings.Split(from, "/"), strings.Split(to, "/")
	i := 0
	for i < len(fs) && i < len(ts)-1 && fs[i] == ts[i] {
		i++
	}
	var b strings.Builder
	for range len(fs) - i {
		b.WriteString("../")
	}
	b.WriteString(strings.Join(ts[i:], "/"))
	return b.String()
}

// Stats counts a tree's mix.
type Stats struct {
	Entries    int   `json:"entries"`
	Regular    int   `json:"regular"`
	Text       int   `json:"text"`
	Binary     int   `json:"binary"`
	Large      int   `json:"large"`
	Symlinks   int   `json:"symlinks"`
	Executable int   `json:"executable"`
	Duplicates int   `json:"duplicates"`
	Empty      int   `json:"empty"`
	Dirs       int   `json:"dirs"`
	MaxDepth   int   `json:"max_depth"` // path components of the deepest directory
	Bytes      int64 `json:"bytes"`     // of the regular files
	UniqueData int   `json:"unique_contents"`
}

// Stats counts t's mix.
func (t *Tree) Stats() Stats {
	s := Stats{Entries: len(t.Entries), Dirs: len(t.Dirs)}
	seen := make(map[Content]bool)
	for _, e := range t.Entries {
		switch e.Kind {
		case Symlink:
			s.Symlinks++
			continue
		case Text:
			s.Text++
		case Binary:
			s.Binary++
		case Large:
			s.Large++
		}
		s.Regular++
		s.Bytes += e.Content.Size
		if e.Mode&0o111 != 0 {
			s.Executable++
		}
		if e.Dup {
			s.Duplicates++
		}
		if e.Content.Size == 0 {
			s.Empty++
		}
		seen[e.Content] = true
	}
	s.UniqueData = len(seen)
	for _, d := range t.Dirs {
		s.MaxDepth = max(s.MaxDepth, strings.Count(d, "/")+1)
	}
	return s
}

// seedBytes expands a content seed into a ChaCha8 key.
func seedBytes(seed uint64) [32]byte {
	var k [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(k[i*8:], seed+uint64(i)*0x9e3779b97f4a7c15)
	}
	return k
}
