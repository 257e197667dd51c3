package bucket

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Memory is a Store in memory with S3's contract as this package uses it
// (conditional writes, ETags, ordered listing in pages of 1000), for the
// tests. The contract suite holds it and a real store to the same answers.
type Memory struct {
	mu      sync.Mutex
	objects map[string]memObject
	n       counters
	// Before, when set, is called before each request with its kind
	// ("GET", "HEAD", "LIST", "PUT", "DELETE") and key; an error it
	// returns is the request's (a test's injected failure).
	Before func(op, key string) error
	// NoConditions makes it ignore If-Match and If-None-Match, as some
	// S3-compatible stores do.
	NoConditions bool
}

type memObject struct {
	data         []byte
	etag         string
	cacheControl string
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{objects: map[string]memObject{}} }

func (m *Memory) before(op, key string) error {
	if m.Before != nil {
		return m.Before(op, key)
	}
	return nil
}

// Requests implements Store.
func (m *Memory) Requests() Counts { return m.n.snapshot() }

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string, max int64) ([]byte, string, error) {
	m.n.get.Add(1)
	if err := m.before("GET", key); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return nil, "", fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if int64(len(o.data)) > max {
		return nil, "", fmt.Errorf("%s: %d bytes: %w", key, len(o.data), ErrTooLarge)
	}
	return slices.Clone(o.data), o.etag, nil
}

// Head implements Store.
func (m *Memory) Head(_ context.Context, key string) (bool, error) {
	m.n.head.Add(1)
	if err := m.before("HEAD", key); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.objects[key]
	return ok, nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, prefix, startAfter string, fn func([]string) error) error {
	m.mu.Lock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	sort.Strings(keys)
	for {
		m.n.list.Add(1)
		if err := m.before("LIST", prefix); err != nil {
			return err
		}
		page := keys[:min(len(keys), 1000)]
		keys = keys[len(page):]
		if err := fn(page); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
	}
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, key string, body []byte, o PutOptions) (string, error) {
	m.n.put.Add(1)
	if err := m.before("PUT", key); err != nil {
		return "", err
	}
	if o.SHA256 != nil && *o.SHA256 != sha256.Sum256(body) {
		return "", fmt.Errorf("%s: the body does not match its SHA-256", key)
	}
	return m.put(key, body, o)
}

func (m *Memory) put(key string, body []byte, o PutOptions) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, exists := m.objects[key]
	if !m.NoConditions {
		if o.IfNoneMatch && exists || o.IfMatch != "" && (!exists || old.etag != o.IfMatch) {
			return "", fmt.Errorf("%s: %w", key, ErrPrecondition)
		}
	}
	sum := md5.Sum(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	m.objects[key] = memObject{data: slices.Clone(body), etag: etag, cacheControl: o.CacheControl}
	return etag, nil
}

// PutLarge implements Store.
func (m *Memory) PutLarge(_ context.Context, key string, r io.Reader, o PutOptions) error {
	m.n.part.Add(1)
	if err := m.before("PUT", key); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	_, err = m.put(key, data, o)
	return err
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key, ifMatch string) error {
	m.n.del.Add(1)
	if err := m.before("DELETE", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, exists := m.objects[key]
	if !exists {
		return nil
	}
	if ifMatch != "" && old.etag != ifMatch && !m.NoConditions {
		return fmt.Errorf("%s: %w", key, ErrPrecondition)
	}
	delete(m.objects, key)
	return nil
}

// Keys lists every key, sorted (for the tests).
func (m *Memory) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CacheControl is the Cache-Control key was written with (for the tests).
func (m *Memory) CacheControl(key string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objects[key].cacheControl
}
