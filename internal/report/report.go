package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Outcome classifies a ref's outcome in the words of the report.
func Outcome(o transfer.RefOutcome) (status, reason string) {
	switch o.Status {
	case wire.StatusOK:
		switch {
		case o.New.IsZero():
			return "deleted", ""
		case o.Old.IsZero():
			return "created", ""
		case o.Forced:
			return "forced", ""
		}
		return "updated", ""
	case wire.StatusUpToDate:
		return "up-to-date", ""
	case wire.StatusNonFastForward:
		return "rejected", "non-fast-forward"
	case wire.StatusStale:
		return "rejected", "stale"
	case wire.StatusAtomic:
		return "rejected", "atomic"
	}
	return "rejected", "rejected"
}

// Options say how to word the report.
type Options struct {
	Header string // "To DEST" or "From SOURCE"
	Verb   string // "sent" or "received"
	Hint   string // printed, with the ref, after a non-fast-forward rejection
	DryRun bool
	Quiet  bool // only rejected refs
}

// Write prints the git-style report: the header line, then a line per ref
// and a last line with the objects, bytes and time.
func Write(w io.Writer, res *transfer.PushResult, o Options, elapsed time.Duration) {
	header, quiet := o.Header, o.Quiet
	switch {
	case o.DryRun:
		header += " (dry run)"
	case res.DryRun:
		header += " (dry run: the server's; nothing moved)"
	}
	fmt.Fprintln(w, header)
	for _, r := range res.Refs {
		status, reason := Outcome(r)
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
			flag, summary = " ", r.Old.Short()+".."+r.New.Short()
		case "forced":
			flag, summary, note = "+", r.Old.Short()+"..."+r.New.Short(), "(forced update)"
		case "up-to-date":
			flag, summary = "=", "[up to date]"
			if r.Signed {
				summary = "[up to date, signatures updated]"
			}
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
				note = "(" + wire.Printable(r.Message) + ")"
			}
		}
		// The remote's words, and its ref names (a pull's), escaped.
		line := fmt.Sprintf(" %s %-22s %s", flag, summary, wire.Printable(r.Ref.String()))
		if r.Signed && status != "up-to-date" {
			note = strings.TrimSpace(note + " (signatures updated)")
		}
		if note != "" {
			line += " " + note
		}
		fmt.Fprintln(w, line)
	}
	if quiet {
		return
	}
	verb := o.Verb
	if o.DryRun { // in the server's dry run the objects did go
		verb = map[string]string{"sent": "would send", "received": "would receive"}[verb]
	}
	fmt.Fprintf(w, "%s %d objects, %s in %.1fs\n", verb, res.ObjectsSent, HumanBytes(res.BytesSent), elapsed.Seconds())
	for _, r := range res.Refs {
		if r.Status == wire.StatusNonFastForward && o.Hint != "" {
			fmt.Fprintf(w, "hint: %s %s\n", wire.Printable(r.Ref.String()), o.Hint)
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
	// Signed: the push brought the remote signatures of the commit that
	// it lacked (in a dry run: would have).
	Signed bool `json:"signatures_updated"`
}

func newJSONRef(o transfer.RefOutcome) jsonRef {
	status, reason := Outcome(o)
	return jsonRef{Ref: o.Ref.String(), Old: hexOrEmpty(o.Old), New: hexOrEmpty(o.New),
		Status: status, Reason: reason, Message: o.Message, Signed: o.Signed}
}

type jsonResult struct {
	Refs        []jsonRef `json:"refs"`
	ObjectsSent uint64    `json:"objects_sent"`
	BytesSent   uint64    `json:"bytes_sent"`
	Seconds     float64   `json:"seconds"`
	DryRun      bool      `json:"dry_run"`
	Remote      []string  `json:"remote_messages"`
	Retries     []Attempt `json:"retries,omitempty"`
}

// Attempt is a try of a push that lost its connection, before the one
// the result is of.
type Attempt struct {
	Error       string `json:"error"`
	ObjectsSent uint64 `json:"objects_sent"`
	BytesSent   uint64 `json:"bytes_sent"`
}

// WriteJSON prints the result as one JSON object; retries are the earlier
// tries that lost their connection ("retries", left out when none).
func WriteJSON(w io.Writer, res *transfer.PushResult, dryRun bool, elapsed time.Duration, remote []string, retries ...Attempt) error {
	out := jsonResult{ObjectsSent: res.ObjectsSent, BytesSent: res.BytesSent, Seconds: elapsed.Seconds(), DryRun: dryRun || res.DryRun,
		Refs: []jsonRef{}, Remote: append([]string{}, remote...), Retries: retries}
	for _, o := range res.Refs {
		out.Refs = append(out.Refs, newJSONRef(o))
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

// HumanBytes formats a byte count for people.
func HumanBytes(n uint64) string {
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

// Destination is one destination of a push to several (ostree-push --to).
type Destination struct {
	Dest       string
	Result     *transfer.PushResult // nil when the push there failed
	Err        error
	LeftBehind bool
	Remote     []string      // its receiver's messages
	Elapsed    time.Duration // from the start until this destination was done
	Retries    []Attempt     // the earlier tries that lost their connection
}

type jsonDestination struct {
	Destination string `json:"destination"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	LeftBehind  bool   `json:"left_behind"`
	jsonResult
}

type jsonFanOut struct {
	Destinations []jsonDestination `json:"destinations"`
	OK           bool              `json:"ok"`
	ObjectsRead  uint64            `json:"objects_read"`
	BytesRead    uint64            `json:"bytes_read"`
	Seconds      float64           `json:"seconds"`
	DryRun       bool              `json:"dry_run"`
}

// WriteFanOutJSON prints the result of a push to several destinations as
// one JSON object: a "destinations" list, each entry shaped like the
// result of a single push plus "destination", "ok" and "error", and the
// reads from the local repository.
func WriteFanOutJSON(w io.Writer, dests []Destination, objectsRead, bytesRead uint64, dryRun bool, elapsed time.Duration) error {
	out := jsonFanOut{Destinations: []jsonDestination{}, OK: true, ObjectsRead: objectsRead, BytesRead: bytesRead,
		Seconds: elapsed.Seconds(), DryRun: dryRun}
	for _, d := range dests {
		jd := jsonDestination{Destination: d.Dest, LeftBehind: d.LeftBehind,
			jsonResult: jsonResult{Refs: []jsonRef{}, Remote: append([]string{}, d.Remote...), DryRun: dryRun, Seconds: d.Elapsed.Seconds(), Retries: d.Retries}}
		if d.Err != nil {
			jd.Error = d.Err.Error()
		}
		if d.Result != nil {
			jd.DryRun = dryRun || d.Result.DryRun
			jd.OK = d.Err == nil && d.Result.OK()
			jd.ObjectsSent, jd.BytesSent = d.Result.ObjectsSent, d.Result.BytesSent
			for _, o := range d.Result.Refs {
				jd.Refs = append(jd.Refs, newJSONRef(o))
			}
		}
		out.OK = out.OK && jd.OK
		out.Destinations = append(out.Destinations, jd)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
