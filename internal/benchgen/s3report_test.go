package benchgen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderS3: the object-store case, alone in a run: its tables only,
// ratios to rclone's medians, the requests' medians over the successful
// runs, the store's CPU beside the tool's.
func TestRenderS3(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "results.tsv")
	req := filepath.Join(dir, "requests.tsv")
	meta := filepath.Join(dir, "meta.tsv")
	os.WriteFile(res, []byte(strings.Join([]string{
		"# header",
		"5000\t-\t-\tssh-true\t1\t0.2\t0.01\t8000\t-1\t-1\t5000\tok",
		"5000\ts3\tfresh\ts3-push\t1\t3\t1.2\t35000\t3.0\t-1\t40000000\tok",
		"5000\ts3\tfresh\ts3-push\t2\t5\t1.4\t36000\t3.4\t-1\t40000000\tok",
		"5000\ts3\tfresh\trclone-s3\t1\t4\t2\t57000\t4\t-1\t42000000\tok",
		"5000\ts3\tfresh\trclone-s3\t2\t4\t2\t58000\t4\t-1\t42000000\tok",
		"5000\ts3\tfresh\taws-s3\t1\t8\t7\t79000\t3\t-1\t38000000\tok",
		"5000\ts3\tfresh\taws-s3\t2\t80\t7\t79000\t3\t-1\t38000000\tfailed",
		"5000\ts3\tnoop\ts3-push\t1\t0.1\t0.05\t27000\t0.01\t-1\t10000\tok",
		"5000\ts3\tnoop\ts3-push\t2\t0.1\t0.05\t27000\t0.01\t-1\t10000\tok",
		"5000\ts3\tnoop\trclone-s3\t1\t0.4\t0.4\t74000\t0.06\t-1\t700000\tok",
		"5000\ts3\tnoop\trclone-s3\t2\t0.4\t0.4\t74000\t0.06\t-1\t700000\tok",
	}, "\n")+"\n"), 0o644)
	os.WriteFile(req, []byte(strings.Join([]string{
		"# size\tcase\ttool\trun\tkey\tvalue",
		"5000\tfresh\ts3-push\t1\tPUT\t5200",
		"5000\tfresh\ts3-push\t1\tGET\t4",
		"5000\tfresh\ts3-push\t1\tfailed\t6",
		"5000\tfresh\ts3-push\t2\tPUT\t5201",
		"5000\tfresh\ts3-push\t2\tGET\t5",
		"5000\tfresh\ts3-push\t2\tfailed\t6",
		"5000\tfresh\trclone-s3\t1\tPUT\t5200",
		"5000\tfresh\trclone-s3\t1\tHEAD\t5200",
		"5000\tfresh\trclone-s3\t1\tLIST\t1",
		"5000\tfresh\trclone-s3\t2\tPUT\t5200",
		"5000\tfresh\trclone-s3\t2\tHEAD\t5200",
		"5000\tfresh\trclone-s3\t2\tLIST\t1",
		"5000\tfresh\taws-s3\t1\tPUT\t5200",
		"5000\tfresh\taws-s3\t1\tLIST\t1",
		"5000\tfresh\taws-s3\t2\tPUT\t9999", // a failed run: not counted
		"5000\tnoop\ts3-push\t1\tGET\t4",
		"5000\tnoop\ts3-push\t2\tGET\t4",
		"5000\tnoop\trclone-s3\t1\tLIST\t6",
		"5000\tnoop\trclone-s3\t2\tLIST\t6",
	}, "\n")+"\n"), 0o644)
	os.WriteFile(meta, []byte("5000\tobjects1\t5200\n5000\tarchive1\t36000000\n5000\tobjects2\t134\n5000\tarchive2\t450000\n"), 0o644)
	var out bytes.Buffer
	if err := RenderReport(ReportFiles{Results: res, Meta: meta, Requests: req}, nil, "", &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"#### 5000 files, object store (SeaweedFS, through the counting proxy): median wall time, ratio to `rclone sync`",
		"| case | s3-push | rclone-s3 | aws-s3 |",
		// s3-push: median of 3 and 5 = 4 s against rclone's 4 s; aws:
		// its one successful run.
		"| fresh | **1.00×** (4.00 s) | 4.00 s | **2.00×** (8.00 s) [1 failed] |",
		"| incremental | – | – | – |",
		"| noop | **0.25×** (0.10 s) | 0.40 s | – |",
		"(first commit: 5200 objects, 36.0 MB archive; second adds 134 objects, 0.45 MB)",
		// 5200.5 PUT + 4.5 GET = 5205 requests, 1.00 per object; 40 MB
		// through the proxy, 1.111× the archive; CPU 1.3 + 3.2.
		"| fresh | s3-push | 5205 | 1.00 | 4.5 | 0 | 5200.5 | 0 | 0 | 0 | 0 | 6 | 40.00 | 1.111 | 1.30 + 3.20 | 35 |",
		"| fresh | rclone-s3 | 10401 | 2.00 | 0 | 5200 | 5200 | 0 | 1 | 0 | 0 | 0 | 42.00 | 1.167 | 2.00 + 4.00 | 57 |",
		"| fresh | aws-s3 | 5201 | 1.00 | 0 | 0 | 5200 | 0 | 1 | 0 | 0 | 0 | 38.00 | 1.056 | 7.00 + 3.00 | 77 |",
		"| noop | rclone-s3 | 6 | – | 0 | 0 | 0 | 0 | 6 | 0 | 0 | 0 | 0.70 | – | 0.40 + 0.06 | 72 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	for _, unwanted := range []string{"Targets", "pull-local", "ssh HOST true"} {
		if strings.Contains(s, unwanted) {
			t.Errorf("a report of the object-store case alone has %q:\n%s", unwanted, s)
		}
	}
}

func TestReadRequestsErrors(t *testing.T) {
	for _, bad := range []string{"5000\tfresh\ts3-push\t1\tPUT\n", "x\tfresh\ts3-push\t1\tPUT\t1\n", "5000\tfresh\ts3-push\t1\tPUT\tmany\n"} {
		if _, err := ReadRequests(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadRequests took %q", bad)
		}
	}
}
