package receiveconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Repo holds the settings that may differ per repository (everything but
// root and log_level).
type Repo struct {
	GPGSign            []string
	GPGHomedir         string
	GPGVerify          bool
	GPGTrustedKeys     string
	SignType           string
	SignKeyfiles       []string
	SignVerify         bool
	SignTrustedKeyfile string
	Update             string // "auto", "ostree", "flatpak" or "no" (see UpdateOn)
	UpdateHook         string
	Force              bool
	DryRun             bool

	AllowRefs          []string
	DenyRefs           []string
	DenyNonFastForward bool
	DenyDeletes        bool
	MaxObjectSize      uint64
	MaxPushSize        uint64
	SystemdUnit        string
	StaticDeltas       bool          // from each moved ref's previous commit
	StaticDeltasFull   bool          // and from scratch
	IdleTimeout        time.Duration // 0: none
	StagingMaxAge      time.Duration
	MaxPushDuration    time.Duration // 0: none
	LockTimeout        time.Duration
	MaxRefs            int
	// AllowMetadataRewrite lets a push replace the detached metadata of
	// a commit the repository has with anything, not only add signatures.
	AllowMetadataRewrite bool
	// Retention (0: none): the newest commits of each ref's history to
	// keep, and the age under which a commit is kept.
	KeepCommits     int
	KeepYoungerThan time.Duration
}

// Config is the whole configuration.
type Config struct {
	Root     string
	LogLevel string
	Repo     // the global settings
	Repos    []RepoOverride
	// UsersSet: the configuration has users: (see ForUser), which users
	// and userOrder hold, in the order first met.
	UsersSet  bool
	users     map[string]*userEntry
	userOrder []string
	// Files lists the files read, in order; Warnings the unknown keys met.
	Files    []string
	Warnings []string
}

// RepoOverride is one entry of `repos`: settings for one repository path.
type RepoOverride struct {
	Path string // as written; relative paths are resolved under root
	set  []setting
}

// setting is one key: value pair, type-checked, ready to apply.
type setting struct {
	key   *key
	value any
}

type kind int

const (
	kBool kind = iota
	kString
	kList
	kSize
	kDuration
	kInt
	kUpdate
)

// The methods of update.
const (
	UpdateAuto    = "auto"
	UpdateOstree  = "ostree"
	UpdateFlatpak = "flatpak"
	UpdateNo      = "no"
)

// UpdateOn reports whether update is anything but no.
func (r *Repo) UpdateOn() bool { return r.Update != UpdateNo && r.Update != "" }

// key describes one configuration key: the table drives parsing, the
// per-repo overrides, --help and the example file.
type key struct {
	name    string
	kind    kind
	global  bool // root and log_level: not allowed under repos
	def     string
	help    string
	repo    func(*Repo) any // pointer to the field in Repo
	globalP func(*Config) any
}

// Keys lists every key, in the order --help shows them.
var keys = []*key{
	{name: "root", kind: kString, global: true, def: "none",
		help:    "directory that every repository must lie under (after resolving symlinks and ..); relative repo paths are taken below it. Unset: any path, relative to the login directory.",
		globalP: func(c *Config) any { return &c.Root }},
	{name: "log_level", kind: kString, global: true, def: "INFO",
		help:    "DEBUG, INFO, WARNING, ERROR or CRITICAL.",
		globalP: func(c *Config) any { return &c.LogLevel }},
	{name: "gpg_sign", kind: kList, def: "[]",
		help: "GPG key IDs that sign each received commit (added to its detached metadata; the commit is not rewritten) and the summary.",
		repo: func(r *Repo) any { return &r.GPGSign }},
	{name: "gpg_homedir", kind: kString, def: "none",
		help: "GnuPG home directory holding the gpg_sign keys.",
		repo: func(r *Repo) any { return &r.GPGHomedir }},
	{name: "gpg_verify", kind: kBool, def: "no",
		help: "require each pushed commit to carry a valid GPG signature by a trusted key; otherwise its ref is rejected.",
		repo: func(r *Repo) any { return &r.GPGVerify }},
	{name: "gpg_trustedkeys", kind: kString, def: "none",
		help: "GPG keyring of trusted keys. Unset: ~/.config/ostree/ostree-receive-trustedkeys.gpg or /etc/ostree/ostree-receive-trustedkeys.gpg, and /usr/share/ostree/trusted.gpg.d.",
		repo: func(r *Repo) any { return &r.GPGTrustedKeys }},
	{name: "sign_type", kind: kString, def: "ed25519",
		help: "signature system of the sign_* keys; only ed25519.",
		repo: func(r *Repo) any { return &r.SignType }},
	{name: "sign_keyfiles", kind: kList, def: "[]",
		help: "files of base64 ed25519 secret keys that sign each received commit and the summary.",
		repo: func(r *Repo) any { return &r.SignKeyfiles }},
	{name: "sign_verify", kind: kBool, def: "no",
		help: "require each pushed commit to carry a valid ed25519 signature by a trusted key; otherwise its ref is rejected.",
		repo: func(r *Repo) any { return &r.SignVerify }},
	{name: "sign_trustedkeyfile", kind: kString, def: "none",
		help: "file of trusted base64 ed25519 public keys. Unset: ~/.config/ostree/ostree-receive-trustedkeyfile.ed25519 or /etc/ostree/ostree-receive-trustedkeyfile.ed25519, and libostree's trusted.ed25519 files and .d directories.",
		repo: func(r *Repo) any { return &r.SignTrustedKeyfile }},
	{name: "update", kind: kUpdate, def: "auto",
		help: "after refs move, regenerate the summary (signed with gpg_sign / sign_keyfiles when set), or run update_hook when set: ostree (libostree's summary), flatpak (flatpak build-update-repo), auto (flatpak for a repository holding app/, runtime/ or appstream refs, else ostree; yes means auto), or no. A failed update is marked (ostree-push-summary-stale in the repository), said on every push while marked, and retried by the next push that moves a ref.",
		repo: func(r *Repo) any { return &r.Update }},
	{name: "update_hook", kind: kString, def: "none",
		help: "command run after refs move, instead of the summary update (when update is on), split like a shell command line and run without a shell, with OSTREE_RECEIVE_REPO, OSTREE_RECEIVE_REFS, OSTREE_RECEIVE_UPDATES and OSTREE_RECEIVE_USER (the pusher's identity, see users) in its environment; its failure is reported to the pusher and does not undo the refs.",
		repo: func(r *Repo) any { return &r.UpdateHook }},
	{name: "force", kind: kBool, def: "no",
		help: "accept updates that are not fast-forwards from every client (unless deny_non_fast_forward).",
		repo: func(r *Repo) any { return &r.Force }},
	{name: "dry_run", kind: kBool, def: "no",
		help: "treat every push as a dry run: report, change nothing.",
		repo: func(r *Repo) any { return &r.DryRun }},
	{name: "allow_refs", kind: kList, def: "[] (all)",
		help: "ref name patterns a push may update (* matches any characters, / included; ? one character). Others are rejected. A plain pattern matches the repository's own refs; (COLLECTION, REF) matches collection refs.",
		repo: func(r *Repo) any { return &r.AllowRefs }},
	{name: "deny_refs", kind: kList, def: "[]",
		help: "ref name patterns no push may update, written as for allow_refs; wins over allow_refs.",
		repo: func(r *Repo) any { return &r.DenyRefs }},
	{name: "deny_non_fast_forward", kind: kBool, def: "no",
		help: "reject updates that are not fast-forwards, even from a client that asks to force them, and even with force.",
		repo: func(r *Repo) any { return &r.DenyNonFastForward }},
	{name: "allow_metadata_rewrite", kind: kBool, def: "no",
		help: "let a push replace the detached metadata of a commit the repository already has with anything; by default it may only add signatures: every other entry must be as it was, and the signatures it lacked are appended to those there, none of which is ever removed (with gpg_verify or sign_verify the commit must still verify).",
		repo: func(r *Repo) any { return &r.AllowMetadataRewrite }},
	{name: "deny_deletes", kind: kBool, def: "no",
		help: "reject ref deletions.",
		repo: func(r *Repo) any { return &r.DenyDeletes }},
	{name: "max_object_size", kind: kSize, def: "64G",
		help: "largest content object accepted (bytes; K, M, G, T suffixes), counted inflated: a compressed object is refused by the size it declares, before it is inflated.",
		repo: func(r *Repo) any { return &r.MaxObjectSize }},
	{name: "max_push_size", kind: kSize, def: "0 (no limit)",
		help: "most object bytes one push may write, counted inflated as for max_object_size.",
		repo: func(r *Repo) any { return &r.MaxPushSize }},
	{name: "systemd_unit", kind: kString, def: "none",
		help: "systemd unit to start (through systemd's D-Bus API, without waiting) after refs move; a template name ending in @.service gets the repo path, escaped, as its instance.",
		repo: func(r *Repo) any { return &r.SystemdUnit }},
	{name: "static_deltas", kind: kBool, def: "no",
		help: "after refs move, generate a static delta from each moved ref's previous commit to its new one (libostree's delta generation, as ostree static-delta generate), before the summary is regenerated, so that HTTP clients pulling the update fetch the delta.",
		repo: func(r *Repo) any { return &r.StaticDeltas }},
	{name: "static_deltas_from_scratch", kind: kBool, def: "no",
		help: "also generate a static delta from scratch to each ref's new commit (for first installs).",
		repo: func(r *Repo) any { return &r.StaticDeltasFull }},
	{name: "idle_timeout", kind: kDuration, def: "10m",
		help: "give up on a client that sends nothing for this long while the receiver waits for it, or that stops reading for this long while the receiver writes to it (a duration such as 30s, 10m or 1h; a bare number is seconds; 0 disables): the receiver exits with an error, and no ref moves.",
		repo: func(r *Repo) any { return &r.IdleTimeout }},
	{name: "max_push_duration", kind: kDuration, def: "6h",
		help: "end any push that has run this long, whatever the client does (one that trickles a byte per interval under idle_timeout, say): the receiver exits with an error, and releases its locks (0 disables).",
		repo: func(r *Repo) any { return &r.MaxPushDuration }},
	{name: "max_refs", kind: kInt, def: "200000",
		help: "the most refs the repository may hold (its own and collection refs): a push that would create refs past it is refused (0: no limit).",
		repo: func(r *Repo) any { return &r.MaxRefs }},
	{name: "lock_timeout", kind: kDuration, def: "5m",
		help: "how long a push waits for another push's hold on the repository's ref lock (it is held while refs are judged and moved, and the summary is regenerated) before it fails, changing nothing (a duration; 0: the default).",
		repo: func(r *Repo) any { return &r.LockTimeout }},
	{name: "keep_commits", kind: kInt, def: "0",
		help: "after a push that moves refs, keep only the newest N commits of each ref's history (the commit it points to and its N-1 nearest ancestors) and prune the rest from the repository with libostree's prune (objects no kept commit of any ref reaches, and the static deltas to commits pruned), under the repository's exclusive lock (0: keep every commit).",
		repo: func(r *Repo) any { return &r.KeepCommits }},
	{name: "keep_younger_than", kind: kDuration, def: "0",
		help: "after a push that moves refs, keep the commits of each ref's history younger than this (by their timestamp; a duration such as 12h, 90d or 4w) and prune the older ones; with keep_commits, a commit either keeps is kept (0: no age rule).",
		repo: func(r *Repo) any { return &r.KeepYoungerThan }},
	{name: "staging_max_age", kind: kDuration, def: "24h",
		help: "remove libostree staging directories (tmp/staging-*) that no push holds once they are older than this, before a push starts: what an interrupted push staged waits that long for a push to resume it (a duration; 0: the default).",
		repo: func(r *Repo) any { return &r.StagingMaxAge }},
}

var keyByName = func() map[string]*key {
	m := map[string]*key{}
	for _, k := range keys {
		m[k.name] = k
	}
	return m
}()

// Default returns the configuration with every key at its default.
func Default() *Config {
	return &Config{
		LogLevel: "INFO",
		Repo:     Repo{SignType: "ed25519", Update: UpdateAuto, MaxObjectSize: 64 << 30, IdleTimeout: DefaultIdleTimeout, StagingMaxAge: 24 * time.Hour, MaxPushDuration: DefaultMaxPushDuration, LockTimeout: 5 * time.Minute, MaxRefs: 200000},
	}
}

// DefaultMaxPushDuration is max_push_duration's default.
const DefaultMaxPushDuration = 6 * time.Hour

// DefaultIdleTimeout is idle_timeout's default.
const DefaultIdleTimeout = 10 * time.Minute

// DefaultPaths are the files read when neither --config nor
// $OSTREE_RECEIVE_CONF names one.
func DefaultPaths() []string {
	home := os.Getenv("XDG_CONFIG_HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(h, ".config")
		}
	}
	paths := []string{"/etc/ostree/ostree-receive.conf"}
	if home != "" {
		paths = append(paths, filepath.Join(home, "ostree", "ostree-receive.conf"))
	}
	return paths
}

// Load reads the configuration. explicit is the --config value ("" when
// not given); it replaces $OSTREE_RECEIVE_CONF, which replaces the default
// files.
func Load(explicit string) (*Config, error) {
	c := Default()
	paths, required := DefaultPaths(), false
	if env := os.Getenv("OSTREE_RECEIVE_CONF"); env != "" {
		paths, required = []string{env}, true
	}
	if explicit != "" {
		paths, required = []string{explicit}, true
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && !required {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		if err := c.parse(p, data); err != nil {
			return nil, err
		}
		c.Files = append(c.Files, p)
	}
	return c, c.check()
}

// Parse reads one file's contents into c (exported for tests and --check).
func (c *Config) parse(path string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: not a YAML mapping of keys to values", path)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		name, value := root.Content[i].Value, root.Content[i+1]
		if name == "repos" {
			if err := c.parseRepos(path, value); err != nil {
				return err
			}
			continue
		}
		if name == "users" {
			if err := c.parseUsers(path, value); err != nil {
				return err
			}
			continue
		}
		k, ok := keyByName[name]
		if !ok {
			c.Warnings = append(c.Warnings, fmt.Sprintf("config %s:%d: unknown key %q ignored", path, root.Content[i].Line, name))
			continue
		}
		v, err := decode(k, value)
		if err != nil {
			return fmt.Errorf("config %s:%d: %s: %v", path, value.Line, name, err)
		}
		c.apply(setting{k, v})
	}
	return nil
}

func (c *Config) parseRepos(path string, node *yaml.Node) error {
	if node.Tag == "!!null" {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s:%d: repos: want a mapping of repository paths to settings", path, node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		repoPath, settings := node.Content[i].Value, node.Content[i+1]
		if repoPath == "" {
			return fmt.Errorf("config %s:%d: repos: empty repository path", path, node.Content[i].Line)
		}
		o := RepoOverride{Path: repoPath}
		if settings.Tag != "!!null" {
			if settings.Kind != yaml.MappingNode {
				return fmt.Errorf("config %s:%d: repos: %s: want a mapping of settings", path, settings.Line, repoPath)
			}
			for j := 0; j+1 < len(settings.Content); j += 2 {
				name, value := settings.Content[j].Value, settings.Content[j+1]
				k, ok := keyByName[name]
				if !ok {
					c.Warnings = append(c.Warnings, fmt.Sprintf("config %s:%d: repos: %s: unknown key %q ignored", path, settings.Content[j].Line, repoPath, name))
					continue
				}
				if k.global {
					return fmt.Errorf("config %s:%d: repos: %s: %s can only be set globally", path, settings.Content[j].Line, repoPath, name)
				}
				v, err := decode(k, value)
				if err != nil {
					return fmt.Errorf("config %s:%d: repos: %s: %s: %v", path, value.Line, repoPath, name, err)
				}
				o.set = append(o.set, setting{k, v})
			}
		}
		// A later file's entry for the same path adds to the earlier one.
		merged := false
		for n := range c.Repos {
			if c.Repos[n].Path == repoPath {
				c.Repos[n].set = append(c.Repos[n].set, o.set...)
				merged = true
			}
		}
		if !merged {
			c.Repos = append(c.Repos, o)
		}
	}
	return nil
}

// decode type-checks a YAML value for key k.
func decode(k *key, n *yaml.Node) (any, error) {
	if n.Tag == "!!null" {
		// null resets a setting to its zero value, as in the 1.x receiver.
		switch k.kind {
		case kBool:
			return false, nil
		case kList:
			return []string(nil), nil
		case kSize:
			return uint64(0), nil
		case kDuration:
			return time.Duration(0), nil
		case kInt:
			return 0, nil
		case kUpdate:
			return UpdateNo, nil
		}
		return "", nil
	}
	switch k.kind {
	case kBool:
		// YAML 1.1 booleans, as the 1.x receiver's PyYAML reads them:
		// yes/no and on/off as well as true/false.
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Tag == "!!str") {
			switch strings.ToLower(n.Value) {
			case "true", "yes", "y", "on":
				return true, nil
			case "false", "no", "n", "off":
				return false, nil
			}
		}
		return nil, fmt.Errorf("want yes/no (true/false), got %s", describe(n))
	case kString:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
			return nil, fmt.Errorf("want a string, got %s", describe(n))
		}
		return n.Value, nil
	case kList:
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!int") {
			return []string{n.Value}, nil // a single value for a list
		}
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("want a list of strings, got %s", describe(n))
		}
		var out []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || (item.Tag != "!!str" && item.Tag != "!!int") {
				return nil, fmt.Errorf("want a list of strings, got an item that is %s", describe(item))
			}
			out = append(out, item.Value)
		}
		return out, nil
	case kSize:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
			return nil, fmt.Errorf("want a size such as 512M, got %s", describe(n))
		}
		return ParseSize(n.Value)
	case kDuration:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
			return nil, fmt.Errorf("want a duration such as 30s or 10m, got %s", describe(n))
		}
		return ParseDuration(n.Value)
	case kUpdate:
		// yes/no as the 1.x receiver's bool, or a method.
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Tag == "!!str") {
			switch v := strings.ToLower(n.Value); v {
			case "true", "yes", "y", "on":
				return UpdateAuto, nil
			case "false", "n", "off":
				return UpdateNo, nil
			case UpdateAuto, UpdateOstree, UpdateFlatpak, UpdateNo:
				return v, nil
			}
		}
		return nil, fmt.Errorf("want auto, ostree, flatpak or no (yes means auto), got %s", describe(n))
	case kInt:
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < 0 {
			return nil, fmt.Errorf("want a number, 0 or more, got %s", describe(n))
		}
		return v, nil
	}
	return nil, fmt.Errorf("internal: unknown kind")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q (%s)", n.Value, strings.TrimPrefix(n.Tag, "!!"))
}

// ParseSize parses a byte count with an optional K, M, G or T suffix
// (powers of 1024).
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := uint64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 64)
	if err != nil || (mult > 1 && n > ^uint64(0)/mult) {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// ParseDuration parses a duration as Go writes them (30s, 10m, 1h30m), or
// a bare number of seconds. It must not be negative.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseUint(t, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	// Days and weeks, which time.ParseDuration lacks: 90d, 4w.
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(t, suffix); ok {
			if v, err := strconv.ParseUint(n, 10, 16); err == nil {
				return time.Duration(v) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30s, 10m, 1h or 90d; 0 for none)", s)
	}
	return d, nil
}

func (c *Config) apply(s setting) {
	var p any
	if s.key.global {
		p = s.key.globalP(c)
	} else {
		p = s.key.repo(&c.Repo)
	}
	assign(p, s.value)
}

func assign(p, v any) {
	switch p := p.(type) {
	case *bool:
		*p = v.(bool)
	case *string:
		*p = v.(string)
	case *[]string:
		*p = v.([]string)
	case *uint64:
		*p = v.(uint64)
	case *time.Duration:
		*p = v.(time.Duration)
	case *int:
		*p = v.(int)
	}
}

// check validates values that the types alone do not.
func (c *Config) check() error {
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return err
	}
	check := func(where string, r *Repo) error {
		if r.SignType != "ed25519" {
			return fmt.Errorf("config%s: sign_type %q is not supported (only ed25519)", where, r.SignType)
		}
		for _, p := range append(append([]string{}, r.AllowRefs...), r.DenyRefs...) {
			if p == "" {
				return fmt.Errorf("config%s: empty ref pattern", where)
			}
			if _, _, _, err := splitRefPattern(p); err != nil {
				return fmt.Errorf("config%s: %w", where, err)
			}
		}
		return nil
	}
	if err := check("", &c.Repo); err != nil {
		return err
	}
	for _, o := range c.Repos {
		r := c.Repo
		for _, s := range o.set {
			assign(s.key.repo(&r), s.value)
		}
		if err := check(" repos: "+o.Path, &r); err != nil {
			return err
		}
	}
	return c.checkUsers()
}

// ParseLevel accepts the Python logging level names the 1.x receiver used.
func ParseLevel(s string) (string, error) {
	switch l := strings.ToUpper(s); l {
	case "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
		return l, nil
	case "WARN":
		return "WARNING", nil
	}
	return "", fmt.Errorf("config: log_level %q: want DEBUG, INFO, WARNING, ERROR or CRITICAL", s)
}

// ForRepo returns the settings for the repository at repoPath (already
// resolved): the global ones with the matching `repos` entry applied. An
// entry matches when it names the same directory (relative entries are
// taken under root).
func (c *Config) ForRepo(repoPath string) Repo {
	r := c.Repo
	target, err := os.Stat(repoPath)
	if err != nil {
		return r
	}
	for _, o := range c.Repos {
		p := o.Path
		if !filepath.IsAbs(p) && c.Root != "" {
			p = filepath.Join(c.Root, p)
		}
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, target) {
			for _, s := range o.set {
				assign(s.key.repo(&r), s.value)
			}
		}
	}
	return r
}

// ResolveRepo applies root to the repository path a client asked for: a
// relative path is taken under root, and the result, with symlinks and ..
// resolved, must lie under root (itself resolved). Without root the path
// is only cleaned and made absolute.
func (c *Config) ResolveRepo(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty repository path")
	}
	if c.Root == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		return abs, nil
	}
	root, err := filepath.EvalSymlinks(c.Root)
	if err != nil {
		return "", fmt.Errorf("config: root %s: %v", c.Root, err)
	}
	root, _ = filepath.Abs(root)
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("repository %s: %v", path, err)
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", fmt.Errorf("repository %s is not under the configured root %s (it resolves to %s)", path, c.Root, resolved)
	}
	return resolved, nil
}

// Help describes every key, for ostree-receive --help.
func Help() string {
	var b strings.Builder
	for _, k := range keys {
		scope := ""
		if k.global {
			scope = " (global only)"
		}
		fmt.Fprintf(&b, "  %s (default %s)%s\n%s", k.name, k.def, scope, wrapText(k.help, "      ", 76))
	}
	b.WriteString("  repos\n" + wrapText("per-repository settings: a mapping of repository path (relative paths under root) to any of the keys above but root and log_level.", "      ", 76))
	b.WriteString("  users (default none: every key has the repository's rules)\n" + wrapText("per-key rights: a mapping of identity (ostree-receive-shell --user NAME in a key's forced command) to rules applied on top of the repository's: repos (the repositories it may push to, paths as in repos, globs allowed; unset: all), allow_refs, deny_refs, deny_deletes, deny_non_fast_forward, max_push_size and max_object_size. A ref must pass both allow lists, either deny list denies, the stricter yes/no and the smaller size win. The entry \"*\" is for identities without an entry and keys without an identity; when users is set and there is no \"*\", they are refused.", "      ", 76))
	return b.String()
}

// KeyNames lists the keys, sorted (for tests and documentation checks).
func KeyNames() []string {
	var names []string
	for _, k := range keys {
		names = append(names, k.name)
	}
	names = append(names, "repos", "users")
	sort.Strings(names)
	return names
}

func wrapText(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line)+len(w)+1 > width && line != indent {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}
