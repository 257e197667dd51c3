package benchgen

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RunKey names one timed run of the object-store case.
type RunKey struct {
	Size int
	Case string
	Tool string
	Run  int
}

// Requests are the object-store case's counts: for each run, the counting
// proxy's (Proxy.Counts: requests by class, CountFailed, CountWire).
type Requests map[RunKey]map[string]int64

// ReadRequests parses ci/bench's requests file: lines of SIZE CASE TOOL
// RUN KEY VALUE, tab-separated ('#' lines are comments).
func ReadRequests(r io.Reader) (Requests, error) {
	q := Requests{}
	err := readTSV(r, "requests", 6, true, func(f []string) error {
		size, err1 := strconv.Atoi(f[0])
		run, err2 := strconv.Atoi(f[3])
		v, err3 := strconv.ParseInt(f[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("%q", strings.Join(f, "\t"))
		}
		k := RunKey{Size: size, Case: f[1], Tool: f[2], Run: run}
		if q[k] == nil {
			q[k] = map[string]int64{}
		}
		q[k][f[4]] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// requestMedians gives, for one tool in one case, the median over its
// successful runs of each count (and of "total", the requests of all
// classes); nil when there is none.
func (r *report) requestMedians(size int, cse, tool string) map[string]float64 {
	per := map[string][]float64{}
	for k, c := range r.requests {
		if k.Size != size || k.Case != cse || k.Tool != tool || !r.ok[k] {
			continue
		}
		var total int64
		for _, class := range RequestClasses {
			total += c[class]
			per[class] = append(per[class], float64(c[class]))
		}
		per["total"] = append(per["total"], float64(total))
		per[CountFailed] = append(per[CountFailed], float64(c[CountFailed]))
	}
	if len(per) == 0 {
		return nil
	}
	m := map[string]float64{}
	for k, xs := range per {
		m[k] = median(xs)
	}
	return m
}

// countCell formats a median count: whole, or with its half.
func countCell(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// s3Tables writes, for one size, the object-store case: the median wall
// time of each tool with its ratio to rclone's, then its requests by
// class, the bytes through the proxy and the CPU of the tool and of the
// store. Nothing when the case did not run at that size.
func (r *report) s3Tables(w io.Writer, size int) {
	ran := false
	for _, cse := range r.cases {
		for _, t := range s3Tools {
			ran = ran || r.sum[key{size: size, mode: S3Mode, cse: cse, tool: t}] != nil
		}
	}
	if !ran {
		return
	}
	fmt.Fprintf(w, "\n#### %d files, object store (SeaweedFS, through the counting proxy): median wall time, ratio to `rclone sync`\n\n", size)
	tableHead(w, "| case |", "| --- |", s3Tools)
	for _, cse := range r.cases {
		base := r.get(size, S3Mode, cse, "rclone-s3")
		fmt.Fprintf(w, "| %s |", cse)
		for _, t := range s3Tools {
			s := r.get(size, S3Mode, cse, t)
			if s == nil {
				if f := r.sum[key{size: size, mode: S3Mode, cse: cse, tool: t}]; f != nil && f.failed > 0 {
					fmt.Fprintf(w, " failed |")
				} else {
					fmt.Fprintf(w, " – |")
				}
				continue
			}
			cell := fmt.Sprintf("%.2f s", s.wall)
			if base != nil && base.wall > 0 && t != "rclone-s3" {
				cell = fmt.Sprintf("**%.2f×** (%.2f s)", s.wall/base.wall, s.wall)
			}
			if s.failed > 0 {
				cell += fmt.Sprintf(" [%d failed]", s.failed)
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}

	m := r.meta[size]
	fmt.Fprintf(w, "\n#### %d files, object store: requests (medians), bytes through the proxy, CPU, peak RSS", size)
	if m != nil {
		fmt.Fprintf(w, " (first commit: %.0f objects, %.1f MB archive; second adds %.0f objects, %.2f MB)",
			m["objects1"], m["archive1"]/1e6, m["objects2"], m["archive2"]/1e6)
	}
	fmt.Fprintf(w, "\n\n")
	cols := append([]string{"requests", "per object sent"}, RequestClasses...)
	cols = append(cols, "failed (≥ 400)", "MB through the proxy", "/ archive bytes sent", "CPU s tool + store", "peak RSS MiB tool")
	tableHead(w, "| case | tool |", "| --- | --- |", cols)
	for _, cse := range r.cases {
		for _, t := range s3Tools {
			s := r.get(size, S3Mode, cse, t)
			if s == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %s |", cse, t)
			if q := r.requestMedians(size, cse, t); q != nil {
				per := "–"
				if obj := r.objectsSent(size, cse); obj > 0 {
					per = fmt.Sprintf("%.2f", q["total"]/obj)
				}
				fmt.Fprintf(w, " %s | %s |", countCell(q["total"]), per)
				for _, class := range RequestClasses {
					fmt.Fprintf(w, " %s |", countCell(q[class]))
				}
				fmt.Fprintf(w, " %s |", countCell(q[CountFailed]))
			} else {
				fmt.Fprint(w, strings.Repeat(" – |", 3+len(RequestClasses)))
			}
			wire, ratio := "–", "–"
			if s.hasWire {
				wire = fmt.Sprintf("%.2f", s.wire/1e6)
				if sent := r.archiveSent(size, cse); sent > 0 {
					ratio = fmt.Sprintf("%.3f", s.wire/sent)
				}
			}
			cpu := fmt.Sprintf("%.2f", s.ccpu)
			if s.hasServerCPU {
				cpu += fmt.Sprintf(" + %.2f", s.scpu)
			}
			fmt.Fprintf(w, " %s | %s | %s | %s |\n", wire, ratio, cpu, mib(s.crss))
		}
	}
}

// objectsSent is the number of objects a case must send.
func (r *report) objectsSent(size int, cse string) float64 { return r.caseMeta(size, cse, "objects") }
