package systemd

import (
	"fmt"
	"path"
	"strings"
)

// unitNameMax is systemd's UNIT_NAME_MAX: a unit name is shorter than this.
const unitNameMax = 256

// unitTypes are the suffixes systemd accepts after the last dot of a unit name.
var unitTypes = map[string]bool{
	"service": true, "socket": true, "target": true, "device": true, "mount": true,
	"automount": true, "swap": true, "timer": true, "path": true, "slice": true, "scope": true,
}

// InstanceName escapes a file system path into a unit instance name the
// way `systemd-escape --path` does, so that systemd's %f specifier gives
// the path back: repeated slashes, "." components and trailing slashes go,
// "/" alone becomes "-", the leading "/" is dropped, every other "/"
// becomes "-", a leading "." and every byte outside [A-Za-z0-9:_.]
// (including "-", "\" and "@") becomes \xNN (lowercase hex).
//
// Unlike systemd-escape, which refuses paths with ".." components,
// InstanceName resolves them lexically (path.Clean); UnitForRepo refuses
// them.
func InstanceName(p string) string {
	p = path.Clean(p)
	if p == "/" || p == "." {
		return "-"
	}
	p = strings.TrimPrefix(p, "/")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0:
			fmt.Fprintf(&b, `\x%02x`, c)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == ':', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// UnitForRepo returns the unit to start for the repository at repoPath.
// A template name (the unit type suffix right after an "@", as in
// "ostree-repo-update@.service") gets InstanceName(repoPath) as its
// instance: "x@.service" and "/srv/repo" give "x@srv-repo.service", which
// systemd's %i, %I and %f expand to "srv-repo", "srv/repo" and
// "/srv/repo". Any other valid unit name, instance names included, is
// returned as it is. An invalid unit name, or a template with a repoPath
// that is not an absolute path without ".." components, is an error.
func UnitForRepo(template, repoPath string) (string, error) {
	kind, err := checkUnitName(template)
	if err != nil {
		return "", err
	}
	if kind != kindTemplate {
		return template, nil
	}
	if !path.IsAbs(repoPath) {
		return "", fmt.Errorf("systemd unit %s: repository path %q is not absolute", template, repoPath)
	}
	for _, c := range strings.Split(repoPath, "/") {
		if c == ".." {
			return "", fmt.Errorf("systemd unit %s: repository path %q has a .. component", template, repoPath)
		}
	}
	at := strings.LastIndexByte(template, '@')
	unit := template[:at+1] + InstanceName(repoPath) + template[at+1:]
	if len(unit) >= unitNameMax {
		return "", fmt.Errorf("systemd unit %s: the instance for %q makes a name of %d bytes; systemd allows at most %d",
			template, repoPath, len(unit), unitNameMax-1)
	}
	return unit, nil
}

type unitKind int

const (
	kindPlain    unitKind = iota // foo.service
	kindInstance                 // foo@bar.service
	kindTemplate                 // foo@.service
)

// checkUnitName applies systemd's unit_name_is_valid: shorter than 256
// bytes, a known type after the last dot, a non-empty prefix of
// [A-Za-z0-9:_.\-] with at most its first "@" (not leading) opening the
// instance, which may contain more "@".
func checkUnitName(name string) (unitKind, error) {
	bad := func(why string) (unitKind, error) {
		return 0, fmt.Errorf("invalid systemd unit name %q: %s", name, why)
	}
	if name == "" {
		return bad("empty")
	}
	if len(name) >= unitNameMax {
		return bad(fmt.Sprintf("longer than %d bytes", unitNameMax-1))
	}
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || !unitTypes[name[dot+1:]] {
		return bad("it does not end in a unit type such as .service")
	}
	at := -1
	for i := 0; i < dot; i++ {
		c := name[i]
		if c == '@' && at < 0 {
			at = i
		}
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte(":-_.\\@", c) >= 0) {
			return bad(fmt.Sprintf("byte %q is not allowed (escape it with InstanceName or systemd-escape)", c))
		}
	}
	switch {
	case at == 0:
		return bad("it starts with @")
	case at < 0:
		return kindPlain, nil
	case at+1 == dot:
		return kindTemplate, nil
	default:
		return kindInstance, nil
	}
}
