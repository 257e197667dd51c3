package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/ostree-push/ostree-push/internal/cli"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

type options struct {
	repo           string
	to             []string
	ssh            cli.SSHFlags
	receiveCommand string
	cli.CommonFlags
	progress   bool
	noProgress bool
	noCompress bool
	stdio      bool
	server1x   string
	retry      int
	s3         s3Flags
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.repo, "repo", "", "local repository (default: $OSTREE_REPO, else the current directory)")
	fs.StringArrayVar(&o.to, "to", nil, "push to DEST; repeat it to push to several destinations at once, reading each object once (with --to, every argument is a REFSPEC)")
	o.ssh.Add(fs)
	fs.StringVar(&o.receiveCommand, "receive-command", "ostree-receive", "receiver command run on the remote host; the repo path is appended quoted")
	o.CommonFlags.Add(fs, "allow updates that are not fast-forwards", "print the ssh command and negotiation details")
	fs.BoolVar(&o.progress, "progress", false, "show progress (default: when stderr is a terminal)")
	fs.BoolVar(&o.noProgress, "no-progress", false, "do not show progress")
	fs.BoolVar(&o.noCompress, "no-compress", false, "send objects as stored (default over ssh, never to a local path: the file objects of a bare or bare-user repository deflated, as an archive repository stores them, and metadata deflated when smaller)")
	o.AddJSON(fs)
	fs.StringVar(&o.server1x, "server-1x", server1xAuto, "a server that runs ostree-push 1.x: auto (push to it the 1.x way when its receiver turns out to be 1.x's), never (fail), always (push the 1.x way without trying this protocol first)")
	fs.IntVar(&o.retry, "retry", 3, "when the connection is lost during a push, reconnect and send what is still missing, up to N times, waiting 1, 2, 4… seconds between tries; a refusal is never retried (0: do not retry)")
	o.s3.add(fs)
	fs.BoolVar(&o.stdio, "stdio", false, "send to the receiver on standard input and output (what ostree-pull-ssh runs on the remote host); the arguments are only REFSPECs")
}

// compress decides whether file objects of a repository that does not
// store them compressed are deflated for dests: when one is over ssh.
func (o *options) compress(dests ...transfer.Destination) bool {
	if o.noCompress {
		return false
	}
	for _, d := range dests {
		if !d.Local {
			return true
		}
	}
	return false
}

// showProgress decides whether to draw progress on stderr.
func (o *options) showProgress() bool {
	switch {
	case o.noProgress || o.Quiet || o.JSON:
		return false
	case o.progress:
		return true
	}
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const usage = `Usage: ostree-push [OPTIONS] DEST [REFSPEC...]
       ostree-push [OPTIONS] --to DEST [--to DEST...] [REFSPEC...]
       ostree-push [OPTIONS] s3://BUCKET[/PREFIX] [REFSPEC...]

Publish commits from a local OSTree repository to the repository DEST over
ssh, sending only the objects it lacks. The remote runs ostree-receive,
which verifies every object and moves all refs together, or none.

DEST is [user@]host:PATH, ssh://[user@]host[:port]/PATH, or, without ssh,
a local PATH or file://PATH, or s3://BUCKET[/PREFIX]: an S3 bucket written
as an OSTree archive repository (objects first, each checked, then the refs
by compare-and-swap, then the summary), read by ostree and flatpak over
HTTP; credentials as the AWS tools take them.

REFSPEC is REF (the local ref to the remote ref of the same name),
SRC:DST (any local rev SRC to the remote ref DST), :DST (delete DST), and
may start with + to force that one ref. Without any, every local ref is
pushed.

With --to (repeatable), the same refs go to every DEST in one run: each
destination negotiates on its own, each local object is read once and
streamed to all that lack it, and each gets its own report. One that
fails or is slow does not stop the others.

Exit status: 0 when every ref was updated or already up to date (at every
destination), 1 when a ref was rejected or a push failed (at any
destination; the others are still updated), 2 on a usage error.

Options:
`
