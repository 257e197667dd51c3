package e2e

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/s3test"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/sign"
)

// Publishing into an object store (ostree-push s3://BUCKET/PREFIX) with
// SeaweedFS as the store, read back by ostree pull over plain HTTP.

type s3env struct {
	t      *testing.T
	dir    string
	srv    *s3test.Server
	src    string
	tree   string
	bucket string
}

func newS3Env(t *testing.T, files int) *s3env {
	t.Helper()
	testrepo.RequireTools(t)
	srv, name := s3test.Shared(t)
	e := &s3env{t: t, dir: t.TempDir(), srv: srv, bucket: name}
	e.src = filepath.Join(e.dir, "src")
	e.tree = filepath.Join(e.dir, "tree")
	testrepo.GenerateTree(t, e.tree, testrepo.TreeOptions{Files: files, Seed: 11})
	testrepo.Init(t, e.src, "archive")
	testrepo.Commit(t, e.src, "os/main", e.tree, "first")
	return e
}

// push runs ostree-push against the store with the standard AWS chain
// pointed at it (environment variables).
func (e *s3env) push(args ...string) run {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ostree-push"), append([]string{"--repo=" + e.src, "--s3-path-style"}, args...)...)
	cmd.Env = append(os.Environ(), e.srv.Env()...)
	return runCmd(e.t, cmd, "ostree-push "+strings.Join(args, " "))
}

// pull pulls ref from the bucket path over plain HTTP into a new archive
// repository, checks it with fsck and returns it.
func (e *s3env) pull(path, ref string) string {
	e.t.Helper()
	dst, err := os.MkdirTemp(e.dir, "pulled-")
	if err != nil {
		e.t.Fatal(err)
	}
	testrepo.Init(e.t, dst, "archive")
	testrepo.Ostree(e.t, "remote", "add", "--repo="+dst, "--no-gpg-verify", "origin", e.srv.URL(path))
	testrepo.Ostree(e.t, "pull", "--repo="+dst, "origin", ref)
	testrepo.Fsck(e.t, dst)
	return dst
}

func TestS3Publish(t *testing.T) {
	t.Parallel()
	e := newS3Env(t, 300)
	url := "s3://" + e.bucket + "/os"

	// A dry run reports and writes nothing.
	r := e.push("--json", "--dry-run", url, "os/main")
	wantCode(t, r, 0)
	if dry := parseJSON(t, r); !dry.DryRun || dry.ObjectsSent == 0 {
		t.Errorf("dry run: %+v", dry)
	}
	if resp, err := http.Get(e.srv.URL(e.bucket + "/os/config")); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after a dry run the bucket has a config: %v %v", resp, err)
	}

	hookOut := filepath.Join(e.dir, "hook.out")
	r = e.push("--json", "--after-publish=echo \"$OSTREE_PUSH_S3_URL\" \"$@\" >"+shellQuote(hookOut), url, "os/main")
	wantCode(t, r, 0)
	first := parseJSON(t, r)
	hook, err := os.ReadFile(hookOut)
	if err != nil {
		t.Fatalf("--after-publish did not run: %v", err)
	}
	if got := strings.Fields(string(hook)); !slices.Contains(got, url) || !slices.Contains(got, "os/refs/heads/os/main") || !slices.Contains(got, "os/summary") {
		t.Errorf("--after-publish was given %q", hook)
	}
	// CDN headers: objects immutable, refs and summary revalidated.
	for path, want := range map[string]string{
		"/os/refs/heads/os/main": "no-cache",
		"/os/summary":            "no-cache",
		"/os/objects/" + commitPath(t, e.src, "os/main"): "public, max-age=31536000, immutable",
	} {
		resp, err := http.Head(e.srv.URL(e.bucket) + path)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
		}
	}
	if want := countReachable(t, e.src, "os/main"); first.ObjectsSent != want {
		t.Errorf("fresh publish uploaded %d objects, want %d", first.ObjectsSent, want)
	}
	dst := e.pull(e.bucket+"/os", "os/main")
	if got, want := testrepo.RevParse(t, dst, "origin:os/main"), testrepo.RevParse(t, e.src, "os/main"); got != want {
		t.Fatalf("pulled os/main %s, want %s", got, want)
	}

	// Incremental: one file changed, a few objects.
	if err := os.WriteFile(filepath.Join(e.tree, "changed"), []byte("new content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testrepo.Commit(t, e.src, "os/main", e.tree, "second")
	r = e.push("--json", url, "os/main")
	wantCode(t, r, 0)
	if inc := parseJSON(t, r); inc.ObjectsSent == 0 || inc.ObjectsSent > 10 {
		t.Errorf("incremental publish uploaded %d objects, want a few", inc.ObjectsSent)
	}
	dst = e.pull(e.bucket+"/os", "os/main")
	if got, want := testrepo.RevParse(t, dst, "origin:os/main"), testrepo.RevParse(t, e.src, "os/main"); got != want {
		t.Fatalf("pulled os/main %s after the second publish, want %s", got, want)
	}

	// No-op.
	r = e.push("--json", url, "os/main")
	wantCode(t, r, 0)
	if noop := parseJSON(t, r); noop.ObjectsSent != 0 || noop.Refs[0].Status != "up-to-date" {
		t.Errorf("no-op publish: %+v", noop)
	}

	// Not a fast-forward: refused without --force, nothing changes.
	testrepo.Commit(t, e.src, "other", e.tree, "unrelated", "--no-bindings")
	r = e.push(url, "other:os/main")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "non-fast-forward") && !strings.Contains(r.stderr, "rejected") {
		t.Errorf("non-fast-forward publish said: %s", r.stderr)
	}
	r = e.push(url, "+other:os/main")
	wantCode(t, r, 0)
	dst = e.pull(e.bucket+"/os", "os/main")
	if got, want := testrepo.RevParse(t, dst, "origin:os/main"), testrepo.RevParse(t, e.src, "other"); got != want {
		t.Fatalf("after the forced publish os/main is %s, want %s", got, want)
	}

	// Deleting the ref: gone from refs/heads and from the summary.
	wantCode(t, e.push(url, "other:os/other"), 0)
	wantCode(t, e.push(url, ":os/main"), 0)
	refs := testrepo.Ostree(t, "remote", "refs", "--repo="+dst, "origin")
	if strings.Contains(refs, "os/main") || !strings.Contains(refs, "os/other") {
		t.Fatalf("after deleting os/main the bucket's summary lists:\n%s", refs)
	}
}

// TestS3Race: two publishers move the same ref at once, each from the
// commit both read to a commit of its own: one wins, the other is told
// (stale or not a fast-forward), and the ref is the winner's.
func TestS3Race(t *testing.T) {
	t.Parallel()
	e := newS3Env(t, 50)
	url := "s3://" + e.bucket
	wantCode(t, e.push(url, "os/main"), 0)
	base := testrepo.RevParse(t, e.src, "os/main")
	var commits [2]string
	for i := range commits {
		if err := os.WriteFile(filepath.Join(e.tree, "who"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		commits[i] = testrepo.Commit(t, e.src, fmt.Sprintf("p%d", i), e.tree, "publisher", "--parent="+base, "--no-bindings")
	}
	var runs [2]run
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { runs[i] = e.push(url, fmt.Sprintf("p%d:os/main", i)) })
	}
	wg.Wait()
	won := -1
	for i, r := range runs {
		switch r.code {
		case 0:
			if won >= 0 {
				t.Fatalf("both publishers succeeded:\n%s\n%s", runs[0].stderr, runs[1].stderr)
			}
			won = i
		case 1:
		default:
			t.Fatalf("publisher %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	if won < 0 {
		t.Fatalf("neither publisher succeeded:\n%s\n%s", runs[0].stderr, runs[1].stderr)
	}
	dst := e.pull(e.bucket, "os/main")
	if got := testrepo.RevParse(t, dst, "origin:os/main"); got != commits[won] {
		t.Fatalf("os/main is %s, want the winner's %s", got, commits[won])
	}
}

// TestS3KillWhilePulling: a reader pulls os/main from the bucket over
// HTTP in a loop while publishes of new commits are killed (SIGKILL) at
// every step of the publish and at timed points during the upload. No
// pull may fail, and what the reader gets is always complete (fsck); a
// last publish completes and the reader gets it.
func TestS3KillWhilePulling(t *testing.T) {
	e := newS3Env(t, 400)
	url := "s3://" + e.bucket + "/repo"
	wantCode(t, e.push(url, "os/main"), 0)

	reader := filepath.Join(e.dir, "reader")
	testrepo.Init(t, reader, "archive")
	testrepo.Ostree(t, "remote", "add", "--repo="+reader, "--no-gpg-verify", "origin", e.srv.URL(e.bucket+"/repo"))
	var (
		stop     = make(chan struct{})
		done     = make(chan struct{})
		pulls    int
		failures []string
		seen     = map[string]bool{}
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := testrepo.OstreeErr("pull", "--repo="+reader, "origin", "os/main")
			pulls++
			if err != nil {
				failures = append(failures, fmt.Sprintf("pull %d: %v %s", pulls, err, out))
				continue
			}
			if c, err := testrepo.OstreeErr("rev-parse", "--repo="+reader, "origin:os/main"); err == nil {
				seen[strings.TrimSpace(c)] = true
			}
		}
	}()

	// Each killed publish brings a commit of new content: 200 new files.
	n := 0
	newCommit := func() string {
		n++
		d := filepath.Join(e.tree, fmt.Sprintf("new%02d", n))
		if err := os.MkdirAll(filepath.Join(d, "sub", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			p := filepath.Join(d, fmt.Sprintf("f%03d", i))
			if i%3 == 0 {
				p = filepath.Join(d, "sub", "deeper", fmt.Sprintf("f%03d", i))
			}
			if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("%d-%d ", n, i), 200)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return testrepo.Commit(t, e.src, "os/main", e.tree, fmt.Sprintf("commit %d", n))
	}
	killedBy := func(r run) bool { return r.code == -1 || r.code == 137 }

	for _, delay := range []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		newCommit()
		cmd := exec.Command(filepath.Join(binDir, "ostree-push"), "--repo="+e.src, "--s3-path-style", "--s3-jobs=4", url, "os/main")
		cmd.Env = append(os.Environ(), e.srv.Env()...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		err := cmd.Wait()
		t.Logf("publish killed after %v: %v", delay, err)
	}
	for _, step := range []string{"objects", "dirtrees", "commits", "refs", "ref os/main", "summary", "summary.sig"} {
		newCommit()
		cmd := exec.Command(filepath.Join(binDir, "ostree-push"), "--repo="+e.src, "--s3-path-style", url, "os/main")
		cmd.Env = append(os.Environ(), append(e.srv.Env(), "OSTREE_PUSH_S3_KILL_AT="+step)...)
		r := runCmd(t, cmd, "ostree-push killed at "+step)
		if !killedBy(r) && step != "summary.sig" {
			t.Fatalf("the publish was not killed at %q: exit %d", step, r.code)
		}
	}
	last := newCommit()
	wantCode(t, e.push(url, "os/main"), 0)
	// The reader's loop goes on until it has pulled the last commit.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, _ := testrepo.OstreeErr("rev-parse", "--repo="+reader, "origin:os/main")
		if strings.TrimSpace(c) == last {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	<-done
	t.Logf("%d pulls, %d distinct commits seen", pulls, len(seen))
	if len(failures) > 0 {
		t.Fatalf("%d of %d pulls failed:\n%s", len(failures), pulls, strings.Join(failures, "\n"))
	}
	if pulls < 5 {
		t.Fatalf("only %d pulls ran during the publishes", pulls)
	}
	if got := testrepo.RevParse(t, reader, "origin:os/main"); got != last {
		t.Fatalf("the reader has %s, want the last commit %s", got, last)
	}
	testrepo.Fsck(t, reader)
}

// TestS3LargeObjects publishes, from an archive and from a bare-user
// repository, a file object larger than a single upload takes (in
// parts: bucket.PartSize) beside small ones; the bare-user source's
// .filez are made while being uploaded. ostree pulls both back whole.
func TestS3LargeObjects(t *testing.T) {
	t.Parallel()
	e := newS3Env(t, 50)
	big := make([]byte, 18<<20) // over bucket.PartSize, deflated or not
	rand.New(rand.NewSource(3)).Read(big)
	if err := os.WriteFile(filepath.Join(e.tree, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	testrepo.Commit(t, e.src, "os/main", e.tree, "with a large file")
	bare := filepath.Join(e.dir, "bare-user")
	testrepo.Init(t, bare, "bare-user")
	testrepo.Commit(t, bare, "os/bare", e.tree, "from bare-user")

	wantCode(t, e.push("s3://"+e.bucket+"/archive", "os/main"), 0)
	dst := e.pull(e.bucket+"/archive", "os/main")
	if got, want := testrepo.RevParse(t, dst, "origin:os/main"), testrepo.RevParse(t, e.src, "os/main"); got != want {
		t.Fatalf("pulled %s, want %s", got, want)
	}
	e.src = bare
	wantCode(t, e.push("-v", "s3://"+e.bucket+"/bare", "os/bare"), 0)
	dst = e.pull(e.bucket+"/bare", "os/bare")
	if got, want := testrepo.RevParse(t, dst, "origin:os/bare"), testrepo.RevParse(t, bare, "os/bare"); got != want {
		t.Fatalf("pulled %s from the bare-user source's publish, want %s", got, want)
	}
	out := testrepo.Ostree(t, "cat", "--repo="+dst, "origin:os/bare", "/big")
	if out != string(big) {
		t.Fatalf("the large file came back as %d bytes, not the %d published", len(out), len(big))
	}
}

// TestS3SignedSummary: the publisher signs the summary (GPG and ed25519)
// into summary.sig; ostree pull verifies the GPG signature of the summary
// (gpg-verify-summary) and refuses a stranger's key; the ed25519
// signature is checked with pkg/sign (Debian's libostree has no ed25519).
// A later publish without keys removes the summary.sig it cannot renew.
func TestS3SignedSummary(t *testing.T) {
	t.Parallel()
	e := newS3Env(t, 30)
	home, id, keyring := gpgKey(t, e.dir, "publisher")
	_, _, strangerKeyring := gpgKey(t, e.dir, "stranger")
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	keyfile := filepath.Join(e.dir, "ed25519.secret")
	if err := os.WriteFile(keyfile, []byte(sign.EncodeKey(priv)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "s3://" + e.bucket
	wantCode(t, e.push("--sign-summary-gpg="+id, "--gpg-homedir="+home, "--sign-summary-ed25519="+keyfile, url, "os/main"), 0)

	pullWith := func(keyring string) error {
		dst := filepath.Join(e.dir, fmt.Sprintf("verify-%d", time.Now().UnixNano()))
		testrepo.Init(t, dst, "archive")
		testrepo.Ostree(t, "remote", "add", "--repo="+dst, "--set=gpg-verify=false", "--set=gpg-verify-summary=true",
			"--gpg-import="+keyring, "origin", e.srv.URL(e.bucket))
		_, err := testrepo.OstreeErr("pull", "--repo="+dst, "origin", "os/main")
		return err
	}
	if err := pullWith(keyring); err != nil {
		t.Fatalf("pull verifying the summary with the publisher's key: %v", err)
	}
	if err := pullWith(strangerKeyring); err == nil {
		t.Fatal("pull verifying the summary with a stranger's key succeeded")
	}
	summaryBytes := httpGet(t, e.srv.URL(e.bucket)+"/summary")
	sig := httpGet(t, e.srv.URL(e.bucket)+"/summary.sig")
	sigs, err := sign.DetachedSignatures(sig, sign.MetadataKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.NewEd25519Verifier([]ed25519.PublicKey{pub}, nil).Verify(summaryBytes, sigs); err != nil {
		t.Fatalf("the ed25519 signature of the summary: %v", err)
	}

	// A publish without the keys removes the stale summary.sig.
	if err := os.WriteFile(filepath.Join(e.tree, "more"), []byte("more"), 0o644); err != nil {
		t.Fatal(err)
	}
	testrepo.Commit(t, e.src, "os/main", e.tree, "unsigned publish")
	wantCode(t, e.push(url, "os/main"), 0)
	resp, err := http.Get(e.srv.URL(e.bucket) + "/summary.sig")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("summary.sig after an unsigned publish: HTTP %d, want 404", resp.StatusCode)
	}
}

// commitPath is where an archive repository keeps the commit rev names.
func commitPath(t *testing.T, repo, rev string) string {
	c := testrepo.RevParse(t, repo, rev)
	return c[:2] + "/" + c[2:] + ".commit"
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3Flatpak: a repository of Flatpak apps published to the bucket,
// one ref at a time (the second publish derives the summary), is listed
// by flatpak remote-ls over HTTP.
func TestS3Flatpak(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("flatpak"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("flatpak not found (run ci/setup): %v", err)
		}
		t.Skipf("flatpak not found (run ci/setup): %v", err)
	}
	e := newS3Env(t, 10)
	apps := []string{"org.example.First", "org.example.Second"}
	for i, app := range apps {
		ref := "app/" + app + "/x86_64/stable"
		meta := "[Application]\nname=" + app + "\nruntime=org.example.Platform/x86_64/stable\n"
		testrepo.Commit(t, e.src, ref, e.tree, app, "--add-metadata-string=xa.metadata="+meta)
		r := e.push("-v", "s3://"+e.bucket+"/flatpak", ref)
		wantCode(t, r, 0)
		if regenerated := strings.Contains(r.stderr, "regenerating the summary"); i > 0 && regenerated {
			t.Errorf("publish %d regenerated the summary instead of deriving it:\n%s", i, r.stderr)
		}
	}
	home := t.TempDir()
	flatpakCmd(t, home, "remote-add", "--user", "--no-gpg-verify", "published", e.srv.URL(e.bucket+"/flatpak"))
	out := flatpakCmd(t, home, "remote-ls", "--user", "--columns=application,branch", "published")
	for _, app := range apps {
		if !strings.Contains(out, app+"\tstable") {
			t.Errorf("flatpak remote-ls does not list %s:\n%s", app, out)
		}
	}
}

// TestS3FanOut: --to takes s3:// destinations beside ssh ones; each gets
// its own report, and both end up with the ref.
func TestS3FanOut(t *testing.T) {
	e := newEnv(t, 30)
	srv, name := s3test.Shared(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	remote := e.remote("archive")
	r := e.push("--s3-path-style", "--to", e.dest(remote), "--to", "s3://"+name+"/mirror", "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "To s3://"+name+"/mirror") || !strings.Contains(r.stderr, "2 destinations updated") {
		t.Fatalf("the fan-out's report:\n%s", r.stderr)
	}
	sameRef(t, e.src, remote, "os/main")
	pulled := filepath.Join(e.dir, "pulled")
	testrepo.Init(t, pulled, "archive")
	testrepo.Ostree(t, "remote", "add", "--repo="+pulled, "--no-gpg-verify", "origin", srv.URL(name+"/mirror"))
	testrepo.Ostree(t, "pull", "--repo="+pulled, "origin", "os/main")
	if got, want := testrepo.RevParse(t, pulled, "origin:os/main"), testrepo.RevParse(t, e.src, "os/main"); got != want {
		t.Fatalf("the bucket has os/main %s, want %s", got, want)
	}
	testrepo.Fsck(t, pulled)
}

// TestS3Profile: credentials, region and endpoint from a profile of the
// shared AWS config and credentials files (--s3-profile), as the AWS
// tools read them; nothing in the environment but where the files are.
func TestS3Profile(t *testing.T) {
	t.Parallel()
	e := newS3Env(t, 10)
	cfg := filepath.Join(e.dir, "aws-config")
	creds := filepath.Join(e.dir, "aws-credentials")
	if err := os.WriteFile(cfg, []byte("[profile publisher]\nregion = us-east-1\nendpoint_url = "+e.srv.Endpoint+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[publisher]\naws_access_key_id = "+s3test.AccessKey+"\naws_secret_access_key = "+s3test.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "ostree-push"), "--repo="+e.src, "--s3-path-style", "--s3-profile=publisher", "s3://"+e.bucket+"/p", "os/main")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_EC2_METADATA_DISABLED=true")
	wantCode(t, runCmd(t, cmd, "ostree-push --s3-profile=publisher"), 0)
	e.pull(e.bucket+"/p", "os/main")
}
