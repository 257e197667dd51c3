package receiveconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Per-key rights: `users` maps identities (what ostree-receive-shell
// --user NAME in a key's forced command names, ostree-receive's --user) to
// rules that apply on top of the repository's:
//
//	users:
//	  alice:
//	    repos: [os]
//	    allow_refs: ['os/*']
//	  "*":
//	    repos: []
//
// Without `users`, every key has the repository's rules only. With it, an
// identity without an entry of its own, and a key without an identity,
// get the "*" entry; without one they are refused, as gitolite refuses an
// unknown user.

// DefaultUser is the entry of users: for identities without one of their
// own and for keys without an identity.
const DefaultUser = "*"

// MaxUserLen is the longest identity.
const MaxUserLen = 64

// ValidUser reports whether name is a valid identity: a letter or digit,
// then at most 63 letters, digits, '.', '_', '@' or '-' (ASCII). Nothing
// in one needs quoting in a log line or a shell word.
func ValidUser(name string) bool {
	if name == "" || len(name) > MaxUserLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte("._@-", c) < 0) {
			return false
		}
	}
	return true
}

// userKeys are the keys an entry of users: may set besides repos: the
// rules that narrow what a push may do.
var userKeys = []string{"allow_refs", "deny_refs", "deny_deletes", "deny_non_fast_forward", "max_push_size", "max_object_size"}

// userEntry is one entry of users:, as read (later files add to it).
type userEntry struct {
	name     string
	repos    []string
	reposSet bool
	set      []setting
}

// User is the rules of one identity: those of its users: entry (Entry is
// the entry's name, the identity or DefaultUser). They apply in addition
// to the repository's (see the receiver's policy).
type User struct {
	Entry              string
	Repos              []string // nil with ReposSet false: every repository
	ReposSet           bool
	AllowRefs          []string
	DenyRefs           []string
	DenyDeletes        bool
	DenyNonFastForward bool
	MaxPushSize        uint64 // 0: no limit of the identity's
	MaxObjectSize      uint64 // 0: no limit of the identity's
}

// Rule names a key of the entry, for messages: users.alice.allow_refs.
func (u *User) Rule(key string) string { return "users." + u.Entry + "." + key }

// parseUsers reads the users: mapping.
func (c *Config) parseUsers(path string, node *yaml.Node) error {
	if node.Tag == "!!null" {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s:%d: users: want a mapping of identities to rules", path, node.Line)
	}
	c.UsersSet = true
	if c.users == nil {
		c.users = map[string]*userEntry{}
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		name, rules := node.Content[i].Value, node.Content[i+1]
		if name != DefaultUser && !ValidUser(name) {
			return fmt.Errorf("config %s:%d: users: invalid identity %q (want a letter or digit, then at most %d letters, digits, '.', '_', '@' or '-'; or \"*\" for the others)", path, node.Content[i].Line, name, MaxUserLen-1)
		}
		e := c.users[name]
		if e == nil {
			e = &userEntry{name: name}
			c.users[name] = e
			c.userOrder = append(c.userOrder, name)
		}
		if rules.Tag == "!!null" {
			continue
		}
		if rules.Kind != yaml.MappingNode {
			return fmt.Errorf("config %s:%d: users: %s: want a mapping of rules", path, rules.Line, name)
		}
		for j := 0; j+1 < len(rules.Content); j += 2 {
			keyName, value := rules.Content[j].Value, rules.Content[j+1]
			line := rules.Content[j].Line
			if keyName == "repos" {
				// A list of repository paths, like the keys of repos:.
				v, err := decode(&key{kind: kList}, value)
				if err != nil {
					return fmt.Errorf("config %s:%d: users: %s: repos: %v", path, value.Line, name, err)
				}
				e.repos, e.reposSet = v.([]string), true
				continue
			}
			k, ok := keyByName[keyName]
			switch {
			case ok && isUserKey(keyName):
			case ok:
				return fmt.Errorf("config %s:%d: users: %s: %s cannot be set per identity (only repos, %s)", path, line, name, keyName, strings.Join(userKeys, ", "))
			default:
				// Not a warning: a misspelt rule would grant what it
				// meant to deny.
				return fmt.Errorf("config %s:%d: users: %s: unknown key %q (an identity's keys are repos, %s)", path, line, name, keyName, strings.Join(userKeys, ", "))
			}
			v, err := decode(k, value)
			if err != nil {
				return fmt.Errorf("config %s:%d: users: %s: %s: %v", path, value.Line, name, keyName, err)
			}
			e.set = append(e.set, setting{k, v})
		}
	}
	return nil
}

func isUserKey(name string) bool {
	for _, k := range userKeys {
		if k == name {
			return true
		}
	}
	return false
}

// user builds the rules of entry e.
func (e *userEntry) user() *User {
	var r Repo
	for _, s := range e.set {
		assign(s.key.repo(&r), s.value)
	}
	return &User{
		Entry: e.name, Repos: e.repos, ReposSet: e.reposSet,
		AllowRefs: r.AllowRefs, DenyRefs: r.DenyRefs,
		DenyDeletes: r.DenyDeletes, DenyNonFastForward: r.DenyNonFastForward,
		MaxPushSize: r.MaxPushSize, MaxObjectSize: r.MaxObjectSize,
	}
}

// checkUsers validates the entries of users: as check does the rest.
func (c *Config) checkUsers() error {
	for _, name := range c.userOrder {
		u := c.users[name].user()
		where := " " + "users." + name
		for _, p := range append(append([]string{}, u.AllowRefs...), u.DenyRefs...) {
			if p == "" {
				return fmt.Errorf("config%s: empty ref pattern", where)
			}
			if _, _, _, err := splitRefPattern(p); err != nil {
				return fmt.Errorf("config%s: %w", where, err)
			}
		}
		for _, r := range u.Repos {
			if r == "" {
				return fmt.Errorf("config%s: repos: empty repository path", where)
			}
			if _, err := filepath.Match(r, ""); err != nil {
				return fmt.Errorf("config%s: repos: %q: %v", where, r, err)
			}
		}
	}
	return nil
}

// ForUser returns the rules of identity name ("" for a key without one)
// for a push into the repository at repoPath (resolved, as ResolveRepo
// returns it): nil when users: is not set; else its entry, or the "*"
// entry, or an error when neither exists or the entry's repos do not
// include repoPath.
func (c *Config) ForUser(name, repoPath string) (*User, error) {
	if !c.UsersSet {
		return nil, nil
	}
	e := c.users[name]
	if name == "" || e == nil {
		e = c.users[DefaultUser]
	}
	if e == nil {
		if name == "" {
			return nil, fmt.Errorf("refused: this key has no identity (ostree-receive-shell --user NAME in its forced command), and users: has no %q entry", DefaultUser)
		}
		return nil, fmt.Errorf("refused: identity %s has no entry in users:, and there is no %q entry", name, DefaultUser)
	}
	u := e.user()
	if u.ReposSet && !c.anyRepoMatches(u.Repos, repoPath) {
		who := "identity " + name
		if name == "" {
			who = "a key without identity"
		}
		return nil, fmt.Errorf("refused by %s: %s may not push to %s", u.Rule("repos"), who, repoPath)
	}
	return u, nil
}

// anyRepoMatches reports whether one of entries names the repository at
// repoPath: the same directory (relative entries are taken under root, as
// the keys of repos: are), or, for an entry with glob characters (* ? [),
// a path that matches it (filepath.Match: * does not cross a /), before or
// after symlinks are resolved.
func (c *Config) anyRepoMatches(entries []string, repoPath string) bool {
	target, statErr := os.Stat(repoPath)
	paths := []string{filepath.Clean(repoPath)}
	if r, err := filepath.EvalSymlinks(repoPath); err == nil && r != paths[0] {
		paths = append(paths, r)
	}
	roots := []string{c.Root}
	if r, err := filepath.EvalSymlinks(c.Root); c.Root != "" && err == nil && r != c.Root {
		roots = append(roots, r)
	}
	for _, entry := range entries {
		candidates := []string{entry}
		if !filepath.IsAbs(entry) && c.Root != "" {
			candidates = candidates[:0]
			for _, root := range roots {
				candidates = append(candidates, filepath.Join(root, entry))
			}
		}
		for _, p := range candidates {
			if strings.ContainsAny(entry, "*?[") {
				for _, path := range paths {
					if ok, _ := filepath.Match(filepath.Clean(p), path); ok {
						return true
					}
				}
				continue
			}
			if filepath.Clean(p) == paths[0] {
				return true
			}
			if fi, err := os.Stat(p); err == nil && statErr == nil && os.SameFile(fi, target) {
				return true
			}
		}
	}
	return false
}

// CheckRef applies the identity's allow_refs and deny_refs to a ref as
// Repo.CheckRef applies the repository's; the error names the rule.
func (u *User) CheckRef(collection, name string) error {
	return checkRef(u.AllowRefs, u.DenyRefs, collection, name,
		func(shown, p string) error {
			return fmt.Errorf("ref %s is refused by %s (%q)", shown, u.Rule("deny_refs"), p)
		},
		func(shown string) error {
			return fmt.Errorf("ref %s is refused by %s (%s)", shown, u.Rule("allow_refs"), strings.Join(u.AllowRefs, ", "))
		})
}
