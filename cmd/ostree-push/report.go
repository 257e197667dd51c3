package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// outcome classifies a ref's outcome in the words of the report.
func outcome(o transfer.RefOutcome) (status, reason string) {
	switch o.Status {
	case transfer.StatusOK:
		switch {
		case o.New.IsZero():
			return "deleted", ""
		case o.Old.IsZero():
			return "created", ""
		case o.Forced:
			return "forced", ""
		}
		return "updated", ""
	case transfer.StatusUpToDate:
		return "up-to-date", ""
	case transfer.StatusNonFastForward:
		return "rejected", "non-fast-forward"
	case transfer.StatusStale:
		return "rejected", "stale"
	case transfer.StatusAtomic:
		return "rejected", "atomic"
	}
	return "rejected", "rejected"
}

// writeReport prints the git-style report: a "To DEST" line, then a line
// per ref.
func writeReport(w io.Writer, dest transfer.Destination, res *transfer.PushResult, dryRun, quiet bool, elapsed time.Duration) {
	header := "To " + dest.String()
	if dryRun {
		header += " (dry run)"
	}
	fmt.Fprintln(w, header)
	for _, o := range res.Refs {
		status, reason := outcome(o)
		if quiet && reason == "" {
			continue
		}
		var flag, summary, note string
		switch status {
		case "created":
			flag, summary = "*", "[new ref]"
		case "deleted":
			flag, summary = "-", "[deleted]"
		case "updated":
			flag, summary = " ", o.Old.Short()+".."+o.New.Short()
		case "forced":
			flag, summary, note = "+", o.Old.Short()+"..."+o.New.Short(), "(forced update)"
		case "up-to-date":
			flag, summary = "=", "[up to date]"
		default:
			flag, summary = "!", "[rejected]"
			switch reason {
			case "non-fast-forward":
				note = "(non-fast-forward)"
			case "stale":
				note = "(stale: the remote ref moved since it was read)"
			case "atomic":
				note = "(atomic push failed)"
			default:
				note = "(" + o.Message + ")"
			}
		}
		line := fmt.Sprintf(" %s %-22s %s", flag, summary, o.Ref)
		if note != "" {
			line += " " + note
		}
		fmt.Fprintln(w, line)
	}
	if quiet {
		return
	}
	verb := "sent"
	if dryRun {
		verb = "would send"
	}
	fmt.Fprintf(w, "%s %d objects, %s in %.1fs\n", verb, res.ObjectsSent, humanBytes(res.BytesSent), elapsed.Seconds())
	for _, o := range res.Refs {
		if o.Status == transfer.StatusNonFastForward {
			fmt.Fprintf(w, "hint: %s on the remote is not an ancestor of what you pushed; use --force (or +REF) to overwrite it\n", o.Ref)
			break
		}
	}
}

type jsonRef struct {
	Ref     string `json:"ref"`
	Old     string `json:"old"`
	New     string `json:"new"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

type jsonResult struct {
	Refs        []jsonRef `json:"refs"`
	ObjectsSent uint64    `json:"objects_sent"`
	BytesSent   uint64    `json:"bytes_sent"`
	Seconds     float64   `json:"seconds"`
	DryRun      bool      `json:"dry_run"`
	Remote      []string  `json:"remote_messages"`
}

func writeJSON(w io.Writer, res *transfer.PushResult, dryRun bool, elapsed time.Duration, remote []string) error {
	out := jsonResult{ObjectsSent: res.ObjectsSent, BytesSent: res.BytesSent, Seconds: elapsed.Seconds(), DryRun: dryRun,
		Refs: []jsonRef{}, Remote: append([]string{}, remote...)}
	for _, o := range res.Refs {
		status, reason := outcome(o)
		out.Refs = append(out.Refs, jsonRef{Ref: o.Ref.String(), Old: hexOrEmpty(o.Old), New: hexOrEmpty(o.New),
			Status: status, Reason: reason, Message: o.Message})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func hexOrEmpty(c object.Checksum) string {
	if c.IsZero() {
		return ""
	}
	return c.String()
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
