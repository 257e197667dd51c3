package receiveconfig

import (
	"fmt"
	"strings"
)

// CheckRef applies allow_refs and deny_refs to a ref: the repository's own
// (collection "") or a collection ref of another collection (a mirror).
// A pattern "(COLLECTION, REF)" matches collection refs, both parts as
// globs. A plain pattern in allow_refs matches the repository's own refs
// only; in deny_refs it matches the name in any collection too, so that
// a deny-only configuration keeps its names out everywhere.
func (r *Repo) CheckRef(collection, name string) error {
	return checkRef(r.AllowRefs, r.DenyRefs, collection, name,
		func(shown, p string) error {
			return fmt.Errorf("ref %s is denied by the server (deny_refs %q)", shown, p)
		},
		func(shown string) error {
			return fmt.Errorf("ref %s is not in the server's allow_refs", shown)
		})
}

// checkRef applies allow and deny lists to a ref (see Repo.CheckRef);
// denied and notAllowed make the error, from the ref as shown and the
// deny pattern it matched.
func checkRef(allow, deny []string, collection, name string, denied func(shown, pattern string) error, notAllowed func(shown string) error) error {
	shown := name
	if collection != "" {
		shown = "(" + collection + ", " + name + ")"
	}
	for _, p := range deny {
		if MatchRef(p, collection, name) || MatchRef(p, "", name) {
			return denied(shown, p)
		}
	}
	if len(allow) == 0 {
		return nil
	}
	for _, p := range allow {
		if MatchRef(p, collection, name) {
			return nil
		}
	}
	return notAllowed(shown)
}

// MatchRef reports whether a ref matches an allow_refs or deny_refs
// pattern (see CheckRef). A malformed collection pattern (which the
// configuration's check refuses) matches nothing.
func MatchRef(pattern, collection, name string) bool {
	pc, pn, isColl, err := splitRefPattern(pattern)
	if err != nil || isColl != (collection != "") {
		return false
	}
	return Match(pn, name) && (!isColl || Match(pc, collection))
}

// splitRefPattern splits "(COLLECTION, REF)" into its parts; any other
// pattern is a plain one.
func splitRefPattern(p string) (collection, name string, isColl bool, err error) {
	if !strings.HasPrefix(p, "(") {
		return "", p, false, nil
	}
	inner, ok := strings.CutSuffix(p[1:], ")")
	c, n, comma := strings.Cut(inner, ",")
	c, n = strings.TrimSpace(c), strings.TrimSpace(n)
	if !ok || !comma || c == "" || n == "" {
		return "", "", false, fmt.Errorf("ref pattern %q: a collection ref pattern is (COLLECTION, REF)", p)
	}
	return c, n, true, nil
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
