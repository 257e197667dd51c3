package transfer

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Fault injection, for the reliability tests: both sides call their
// options' Fault at named points of a push, and ParseFault builds one
// that kills the process there (internal/testhooks reads its spec from
// the environment, in test builds only). The points:
//
//	push:negotiated     the client has read ADVERTISE
//	push:object         the client is about to send object N (1-based)
//	push:update         the client is about to send UPDATE
//	receive:hello       the receiver has read HELLO
//	receive:object      the receiver has staged object N
//	receive:update      the receiver has read UPDATE, before its checks
//	receive:commit      the receiver holds the ref lock and is about to
//	                    commit the transaction
//	commit:journal      the ref journal is written; the objects are still
//	                    staged (internal/store/commit.go has the steps)
//	commit:objects      the objects are committed; no ref has moved
//	commit:ref          ref N (1-based) of the push has been written
//	commit:refs         every ref has moved; the journal is still there
//	recover:ref         settling a journal, ref N of it has been written
//	receive:committed   the refs have moved; RESULT is not sent yet
type FaultFunc func(point string, n uint64)

// ParseFault parses a fault spec: "POINT[@N][/SIGNAL]", several separated
// by commas, e.g. "receive:object@100/TERM". At POINT (its Nth occurrence
// when @N is given; for the object points N counts objects), the process
// sends itself SIGNAL (KILL, the default, or TERM). An empty spec gives
// nil.
func ParseFault(spec string) (FaultFunc, error) {
	if spec == "" {
		return nil, nil
	}
	type rule struct {
		point string
		n     uint64
		sig   syscall.Signal
	}
	var rules []rule
	for _, part := range strings.Split(spec, ",") {
		r := rule{sig: syscall.SIGKILL}
		p, sig, _ := strings.Cut(part, "/")
		switch strings.ToUpper(sig) {
		case "", "KILL":
		case "TERM":
			r.sig = syscall.SIGTERM
		default:
			return nil, fmt.Errorf("unknown signal %q", sig)
		}
		point, count, hasCount := strings.Cut(p, "@")
		r.point = point
		if hasCount {
			n, err := strconv.ParseUint(count, 10, 64)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("bad count in %q", part)
			}
			r.n = n
		}
		rules = append(rules, r)
	}
	seen := map[string]uint64{}
	return func(point string, n uint64) {
		seen[point]++
		for _, r := range rules {
			if r.point != point {
				continue
			}
			at := seen[point]
			if n > 0 {
				at = n
			}
			if r.n == 0 || r.n == at {
				syscall.Kill(os.Getpid(), r.sig)
				if r.sig == syscall.SIGKILL {
					select {} // never returns
				}
			}
		}
	}, nil
}

func (f FaultFunc) at(point string, n uint64) {
	if f != nil {
		f(point, n)
	}
}

// locked makes a FaultFunc safe to call from several goroutines.
func (f FaultFunc) locked() FaultFunc {
	if f == nil {
		return nil
	}
	var mu sync.Mutex
	return func(point string, n uint64) {
		mu.Lock()
		defer mu.Unlock()
		f(point, n)
	}
}
