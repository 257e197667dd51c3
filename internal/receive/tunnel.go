package receive

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A 1.x client's URL is the server's end of the client's own tunnel: a
// port the sshd session that runs this receiver listens on (ssh -R). Any
// other port on the loopback is another service of the server (another
// repository's web server, say), which a client must not make the
// receiver pull from.

// maxAncestors bounds the walk up the process tree.
const maxAncestors = 16

// checkOwnTunnel checks that this process or one of its ancestors holds
// the socket that listens on the loopback port.
func checkOwnTunnel(port int) error {
	inodes, err := listeningInodes(port)
	if err != nil {
		return fmt.Errorf("cannot tell who listens on port %d: %w", port, err)
	}
	if len(inodes) == 0 {
		return fmt.Errorf("nothing listens on port %d: the client's tunnel is not there", port)
	}
	pid := os.Getpid()
	for i := 0; i < maxAncestors && pid > 1; i++ {
		if holdsSocket(pid, inodes) {
			return nil
		}
		ppid, err := parentOf(pid)
		if err != nil {
			break
		}
		pid = ppid
	}
	return fmt.Errorf("port %d is not the client's tunnel (no process of this ssh session listens on it): only the client's own repository is pulled from", port)
}

// listeningInodes returns the inodes of the TCP sockets that listen on
// port (IPv4 and IPv6), from /proc/net.
func listeningInodes(port int) (map[string]bool, error) {
	inodes := map[string]bool{}
	found := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		found = true
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		f.Close()
	}
	if !found {
		return nil, errors.New("/proc/net/tcp cannot be read")
	}
	return inodes, nil
}

// holdsSocket reports whether process pid has one of the socket inodes
// open.
func holdsSocket(pid int, inodes map[string]bool) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true
		}
	}
	return false
}

// parentOf reads a process's parent from /proc/PID/stat.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// "PID (COMM) STATE PPID ...": COMM may hold anything, ")" too.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(f[1])
}
