package receiveconfig

import "fmt"

// CheckRef applies allow_refs and deny_refs to a ref name.
func (r *Repo) CheckRef(name string) error {
	for _, p := range r.DenyRefs {
		if Match(p, name) {
			return fmt.Errorf("ref %s is denied by the server (deny_refs %q)", name, p)
		}
	}
	if len(r.AllowRefs) == 0 {
		return nil
	}
	for _, p := range r.AllowRefs {
		if Match(p, name) {
			return nil
		}
	}
	return fmt.Errorf("ref %s is not in the server's allow_refs", name)
}

// Match reports whether name matches the glob pattern: '*' matches any
// run of characters ('/' included), '?' any one character, and everything
// else itself.
func Match(pattern, name string) bool {
	// Iterative matching with one backtrack point for the last '*'.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
