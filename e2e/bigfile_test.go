package e2e

// Big objects and memory: a commit holding one big file pushes with both
// sides' peak RSS under 100 MiB. The binaries are built without the race
// detector for this (it multiplies memory use), and /usr/bin/time measures
// each side's peak RSS.

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// maxRSS is the bound on each side's peak resident set.
const maxRSS = 100 << 20

var (
	plainOnce sync.Once
	plainDir  string
	plainErr  error
)

// plainBinaries builds ostree-push and ostree-receive without the race
// detector, once per test run, and returns their directory.
func plainBinaries(t *testing.T) string {
	t.Helper()
	plainOnce.Do(func() {
		root, err := sshtest.RepoRoot()
		if err != nil {
			plainErr = err
			return
		}
		dir := filepath.Join(binDir, "plain")
		build := exec.Command("go", "build", "-o", dir+"/", "./cmd/ostree-push", "./cmd/ostree-receive")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			plainErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		plainDir = dir
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainDir
}

// writeBigFile writes size bytes of real, varied content quickly: a 16 KiB
// random block, each copy stamped with its offset, so that every block
// differs but deflate still finds matches (and the commit stays quick).
func writeBigFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 16<<10)
	rand.New(rand.NewSource(size)).Read(block)
	buf := make([]byte, 0, 1<<20)
	for off := int64(0); off < size; off += int64(len(block)) {
		binary.BigEndian.PutUint64(block, uint64(off))
		n := min(int64(len(block)), size-off)
		buf = append(buf, block[:n]...)
		if len(buf) == cap(buf) || off+n == size {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readRSS reads the peak RSS /usr/bin/time -f %M wrote (KiB), in bytes.
func readRSS(t *testing.T, file string) int64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("peak RSS: %v", err)
	}
	// The last line: time prints "Command exited with non-zero status"
	// before it when the command fails.
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	kib, err := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	if err != nil {
		t.Fatalf("peak RSS in %s: %q", file, data)
	}
	return kib << 10
}

// TestBigFile pushes a commit holding one file of 128 MiB (2 GiB under
// OSTREE_PUSH_STRESS=1) from an archive repository to an empty archive
// one, once as .filez (the archive-filez path) and once as a content
// stream (archive-filez left out, so the receiver compresses), measuring
// both sides' peak RSS.
func TestBigFile(t *testing.T) {
	size, label := int64(128<<20), "128MiB"
	if stress() {
		size, label = 2<<30, "2GiB"
	}
	requireTool(t, "/usr/bin/time")
	bin := plainBinaries(t)
	e := newEnv(t, 5)
	start := time.Now()
	writeBigFile(t, filepath.Join(e.tree, "big.bin"), size)
	c := e.commit("os/big", "big file")
	t.Logf("%s file committed in %v", label, time.Since(start).Round(time.Millisecond))
	if ls := testrepo.Ostree(t, "ls", "--repo="+e.src, c, "/big.bin"); !strings.Contains(ls, strconv.FormatInt(size, 10)) {
		t.Fatalf("the commit does not hold the %d-byte file: %s", size, ls)
	}
	for _, path := range []struct {
		name string
		env  []string
	}{
		{"filez", nil},
		{"content-stream", []string{"OSTREE_PUSH_NO_CAPS=archive-filez"}},
	} {
		t.Run(path.name, func(t *testing.T) {
			remote := filepath.Join(e.dir, "remote "+path.name)
			testrepo.Init(t, remote, "archive")
			clientRSS, recvRSS := filepath.Join(e.dir, path.name+".client-rss"), filepath.Join(e.dir, path.name+".receiver-rss")
			start := time.Now()
			r := e.pushRun(pushCall{
				bin:         bin,
				args:        []string{"--json", e.dest(remote), "os/big"},
				clientEnv:   path.env,
				clientWrap:  []string{"/usr/bin/time", "-f", "%M", "-o", clientRSS},
				receiveWrap: []string{"/usr/bin/time", "-f", "%M", "-o", recvRSS},
				timeout:     15 * time.Minute,
			})
			took := time.Since(start)
			wantCode(t, r, 0)
			sameRef(t, e.src, remote, "os/big")
			testrepo.Fsck(t, remote) // reads the big object back and checks its checksum
			res := parseJSON(t, r)
			client, receiver := readRSS(t, clientRSS), readRSS(t, recvRSS)
			t.Logf("%s as %s: %d bytes sent in %v; peak RSS: ostree-push %.1f MiB, ostree-receive %.1f MiB",
				label, path.name, res.BytesSent, took.Round(time.Millisecond), float64(client)/(1<<20), float64(receiver)/(1<<20))
			failures := 0
			if client > maxRSS || receiver > maxRSS {
				failures = 1
				t.Errorf("peak RSS over %d MiB: ostree-push %d KiB, ostree-receive %d KiB", maxRSS>>20, client>>10, receiver>>10)
			}
			reliability(t, "big-file/"+label+"/"+path.name, 1, failures,
				fmt.Sprintf("client_rss_kib=%d", client>>10), fmt.Sprintf("receiver_rss_kib=%d", receiver>>10),
				fmt.Sprintf("bytes_sent=%d", res.BytesSent), fmt.Sprintf("seconds=%.1f", took.Seconds()))
		})
	}
}
