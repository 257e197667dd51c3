// Command benchgen writes the trees ci/bench pushes and renders its report.
//
//	benchgen tree   -files N -seed S -out DIR [-version 1|2]
//	                 write version 1 (or 2) of the tree into DIR (new or empty)
//	benchgen update -files N -seed S -dir DIR
//	                 turn version 1, written in DIR, into version 2
//	benchgen stats  -files N -seed S [-version 1|2]
//	                 print the tree's mix (and version 2's changes) as JSON
//	benchgen report -results FILE [-meta FILE] [-requests FILE] [-info KEY=VALUE]... [-md FILE]
//	                 print ci/bench's table of medians (with -requests, the
//	                 object-store case's request counts); with -md, also
//	                 write it into FILE between the bench markers
//	benchgen verify -repo DIR [-list FILE] [-j N]
//	                 verify the objects of the archive repository DIR (or
//	                 those FILE lists, relative to DIR/objects) as the
//	                 receiver does, with N goroutines; print what it read
//	                 and how long it took (ci/bench's verify floor)
//	benchgen scale  -refs N -repo DIR -tree CSUM -meta CSUM
//	                 write N commits and refs into the archive repository
//	                 DIR, all of the root tree CSUM/CSUM (ci/bench-scale)
//	benchgen summary-equal A B
//	                 fail unless summary files A and B differ only in
//	                 their last-modified times
//	benchgen scale-phases <LOG
//	                 print the receiver's phases of a push's -v log
//	benchgen scale-report -results FILE [-info KEY=VALUE]... [-md FILE]
//	                 print ci/bench-scale's report; with -md, also write it
//	                 into FILE between the bench-scale markers
//	benchgen s3server -weed PATH -dir DIR -out FILE
//	                 start SeaweedFS with its data in DIR, write its S3
//	                 endpoint, weed's process id, the access key and the
//	                 secret key into FILE, one a line, and stop it on
//	                 SIGTERM (ci/bench's object store)
//	benchgen s3proxy -target URL -out FILE -counts FILE [-log FILE]
//	                 serve a counting reverse proxy to the S3 endpoint URL,
//	                 write its URL into -out, and on SIGTERM write the
//	                 requests by class, the failed ones and the bytes on
//	                 its connections into -counts (and with -log, a line
//	                 per request: class, method, path, status)
//	benchgen s3bucket -endpoint URL -bucket NAME
//	                 create a bucket
//	benchgen s3check -endpoint URL -bucket NAME -ref REF -commit CSUM -objects N
//	                 fail unless the bucket's refs/heads/REF is CSUM and
//	                 objects/ holds N keys
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/internal/benchgen"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  benchgen tree   -files N -seed S -out DIR [-version 1|2]
  benchgen update -files N -seed S -dir DIR
  benchgen stats  -files N -seed S [-version 1|2]
  benchgen report -results FILE [-meta FILE] [-requests FILE] [-info KEY=VALUE]... [-md FILE]
  benchgen verify -repo DIR [-list FILE] [-j N]
  benchgen scale  -refs N -repo DIR -tree CSUM -meta CSUM
  benchgen scale-report -results FILE [-info KEY=VALUE]... [-md FILE]
  benchgen s3server -weed PATH -dir DIR -out FILE
  benchgen s3proxy -target URL -out FILE -counts FILE [-log FILE]
  benchgen s3bucket -endpoint URL -bucket NAME
  benchgen s3check -endpoint URL -bucket NAME -ref REF -commit CSUM -objects N`)
	os.Exit(2)
}

type infoFlag []string

func (f *infoFlag) String() string     { return strings.Join(*f, ",") }
func (f *infoFlag) Set(s string) error { *f = append(*f, s); return nil }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet("benchgen "+cmd, flag.ExitOnError)
	files := fs.Int("files", benchgen.DefaultFiles, "number of files and symlinks")
	seed := fs.Int64("seed", 1, "seed")
	version := fs.Int("version", 1, "tree version, 1 or 2")
	out := fs.String("out", "", "directory to write the tree into")
	dir := fs.String("dir", "", "directory holding version 1")
	results := fs.String("results", "", "ci/bench results (TSV)")
	md := fs.String("md", "", "markdown file to write the report into, between the markers")
	refs := fs.Int("refs", 1000, "number of refs (scale)")
	repo := fs.String("repo", "", "archive repository to write into (scale) or to verify (verify)")
	list := fs.String("list", "", "objects to verify, one a line, relative to DIR/objects (verify)")
	jobs := fs.Int("j", 1, "goroutines verifying (verify)")
	treeSum := fs.String("tree", "", "root dirtree checksum (scale)")
	metaSum := fs.String("meta", "", "root dirmeta checksum (scale); for report, ci/bench per-size facts (TSV)")
	requests := fs.String("requests", "", "ci/bench's object-store request counts (TSV) (report)")
	weed := fs.String("weed", "", "the weed binary (s3server)")
	target := fs.String("target", "", "the S3 endpoint to proxy to (s3proxy)")
	counts := fs.String("counts", "", "file to write the request counts into (s3proxy)")
	logFile := fs.String("log", "", "file to log every request into (s3proxy)")
	endpoint := fs.String("endpoint", "", "S3 endpoint (s3bucket, s3check)")
	bucketName := fs.String("bucket", "", "bucket (s3bucket, s3check)")
	ref := fs.String("ref", "", "ref (s3check)")
	commit := fs.String("commit", "", "commit checksum the ref must hold (s3check)")
	objects := fs.Int("objects", -1, "number of keys objects/ must hold (s3check)")
	var info infoFlag
	fs.Var(&info, "info", "KEY=VALUE for the report's header (repeatable)")
	fs.Parse(os.Args[2:])
	if fs.NArg() != 0 && cmd != "summary-equal" {
		usage()
	}
	cfg := benchgen.Config{Seed: *seed, Files: *files}
	tree := func() (*benchgen.Tree, benchgen.Changes) {
		switch *version {
		case 1:
			return benchgen.Generate(cfg), benchgen.Changes{}
		case 2:
			return benchgen.Version2(cfg)
		}
		fmt.Fprintln(os.Stderr, "benchgen: -version must be 1 or 2")
		os.Exit(2)
		return nil, benchgen.Changes{}
	}
	var err error
	switch cmd {
	case "tree":
		if *out == "" {
			usage()
		}
		t, _ := tree()
		start := time.Now()
		err = t.Write(*out)
		if err == nil {
			s := t.Stats()
			fmt.Fprintf(os.Stderr, "benchgen: wrote version %d: %d entries, %d dirs, %.1f MiB in %.1fs\n",
				t.Version, s.Entries, s.Dirs, float64(s.Bytes)/(1<<20), time.Since(start).Seconds())
		}
	case "update":
		if *dir == "" {
			usage()
		}
		v2, ch := benchgen.Version2(cfg)
		err = benchgen.Update(*dir, benchgen.Generate(cfg), v2)
		if err == nil {
			fmt.Fprintf(os.Stderr, "benchgen: updated to version 2: %d modified, %d added, %d removed\n",
				len(ch.Modified), len(ch.Added), len(ch.Removed))
		}
	case "stats":
		t, ch := tree()
		v := map[string]any{"seed": *seed, "version": t.Version, "stats": t.Stats()}
		if t.Version == 2 {
			v["modified"], v["added"], v["removed"] = len(ch.Modified), len(ch.Added), len(ch.Removed)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(v)
	case "report":
		if *results == "" {
			usage()
		}
		err = benchgen.RenderReport(benchgen.ReportFiles{Results: *results, Meta: *metaSum, Requests: *requests},
			info, *md, os.Stdout)
	case "verify":
		if *repo == "" || *jobs < 1 {
			usage()
		}
		var paths []string
		if *list != "" {
			paths, err = benchgen.ReadObjectList(*list)
		}
		if err == nil {
			start := time.Now()
			var st benchgen.VerifyStats
			st, err = benchgen.Verify(*repo, paths, *jobs)
			if err == nil {
				fmt.Printf("verified %d objects (%d skipped), %d bytes read, %d bytes inflated, %.3f s, %d goroutines\n",
					st.Objects, st.Skipped, st.Bytes, st.Inflated, time.Since(start).Seconds(), *jobs)
			}
		}
	case "scale":
		if *repo == "" || *treeSum == "" || *metaSum == "" {
			usage()
		}
		var tree, meta object.Checksum
		if tree, err = object.ParseChecksum(*treeSum); err == nil {
			meta, err = object.ParseChecksum(*metaSum)
		}
		if err == nil {
			start := time.Now()
			if _, err = benchgen.WriteScaleRepo(*repo, *refs, tree, meta); err == nil {
				fmt.Fprintf(os.Stderr, "benchgen: wrote %d commits and refs in %.1fs\n", *refs, time.Since(start).Seconds())
			}
		}
	case "scale-phases":
		var phases []string
		if phases, err = benchgen.ScalePhases(os.Stdin); err == nil {
			for _, p := range phases {
				fmt.Println(p)
			}
		}
	case "summary-equal":
		// summary-equal A B: the two summary files are the same but for
		// their last-modified times.
		if fs.NArg() != 2 {
			usage()
		}
		var a, b []byte
		if a, err = os.ReadFile(fs.Arg(0)); err == nil {
			b, err = os.ReadFile(fs.Arg(1))
		}
		if err == nil {
			var eq bool
			if eq, err = summary.Equal(a, b); err == nil && !eq {
				err = fmt.Errorf("%s and %s differ", fs.Arg(0), fs.Arg(1))
			}
		}
	case "scale-report":
		if *results == "" {
			usage()
		}
		err = benchgen.RenderScaleReport(*results, info, *md, os.Stdout)
	case "s3server":
		if *weed == "" || *dir == "" || *out == "" {
			usage()
		}
		err = benchgen.RunS3Server(*weed, *dir, *out)
	case "s3proxy":
		if *target == "" || *out == "" || *counts == "" {
			usage()
		}
		err = benchgen.RunProxy(*target, *out, *counts, *logFile)
	case "s3bucket":
		if *endpoint == "" || *bucketName == "" {
			usage()
		}
		err = benchgen.CreateBucket(*endpoint, *bucketName)
	case "s3check":
		if *endpoint == "" || *bucketName == "" || *ref == "" || *commit == "" || *objects < 0 {
			usage()
		}
		err = benchgen.CheckBucket(*endpoint, *bucketName, *ref, *commit, *objects)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}
