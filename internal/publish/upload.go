package publish

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
)

// inlineMax is the largest object read whole into memory and uploaded
// with one PUT; a larger one streams in parts (bucket.PutLarge).
const inlineMax = 16 << 20

// upload uploads objects in the order that keeps the bucket closed
// (package documentation): each step starts once the one before has
// finished, so that no object is there before all it points to.
func (p *publisher) upload(ctx context.Context, objects []pending) error {
	var leaves, trees, metas, commits []object.Name
	for _, o := range objects {
		switch o.name.Type {
		case object.File, object.DirMeta:
			leaves = append(leaves, o.name)
		case object.DirTree:
			trees = append(trees, o.name)
		case object.CommitMeta:
			metas = append(metas, o.name)
		case object.Commit:
			commits = append(commits, o.name)
		}
	}
	p.total = uint64(len(objects))
	if err := forEach(ctx, p.opts.Jobs, leaves, p.uploadOne); err != nil {
		return err
	}
	if err := p.fault("dirtrees"); err != nil {
		return err
	}
	if err := p.uploadTrees(ctx, trees); err != nil {
		return err
	}
	if err := p.fault("commits"); err != nil {
		return err
	}
	if err := forEach(ctx, p.opts.Jobs, metas, p.uploadOne); err != nil {
		return err
	}
	return forEach(ctx, p.opts.Jobs, commits, p.uploadOne)
}

// uploadTrees uploads dirtrees from the leaves up: by height, a dirtree
// whose subdirectories are all in the bucket already (or none) first, then
// those whose subdirectories are all of the first, and so on. Only which
// subdirectories each has is kept between the two passes, not the
// dirtrees' bytes (a first publish of a large tree has many).
func (p *publisher) uploadTrees(ctx context.Context, trees []object.Name) error {
	if len(trees) == 0 {
		return nil
	}
	uploading := make(map[object.Checksum]bool, len(trees))
	for _, n := range trees {
		uploading[n.Checksum] = true
	}
	children := make(map[object.Checksum][]object.Checksum, len(trees))
	var mu sync.Mutex
	err := forEach(ctx, p.opts.Jobs, trees, func(ctx context.Context, n object.Name) error {
		d, _, err := p.src.ReadArchived(n, inlineMax)
		if err != nil {
			return err
		}
		t, err := walk.ParseDirtree(d)
		if err != nil {
			return fmt.Errorf("dirtree %s: %w", n.Checksum, err)
		}
		var kids []object.Checksum
		for _, e := range t.Dirs {
			if uploading[e.Sum] {
				kids = append(kids, e.Sum)
			}
		}
		mu.Lock()
		children[n.Checksum] = kids
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	height := map[object.Checksum]int{}
	var heightOf func(c object.Checksum) (int, error)
	heightOf = func(c object.Checksum) (int, error) {
		if h, ok := height[c]; ok {
			if h < 0 {
				return 0, fmt.Errorf("dirtree %s contains itself", c)
			}
			return h, nil
		}
		height[c] = -1
		h := 0
		for _, k := range children[c] {
			kh, err := heightOf(k)
			if err != nil {
				return 0, err
			}
			h = max(h, kh+1)
		}
		height[c] = h
		return h, nil
	}
	var levels [][]object.Name
	for _, n := range trees {
		h, err := heightOf(n.Checksum)
		if err != nil {
			return err
		}
		for len(levels) <= h {
			levels = append(levels, nil)
		}
		levels[h] = append(levels[h], n)
	}
	for _, level := range levels {
		if err := forEach(ctx, p.opts.Jobs, level, p.uploadOne); err != nil {
			return err
		}
	}
	return nil
}

// uploadOne reads object n (checked, see Source) and uploads it.
func (p *publisher) uploadOne(ctx context.Context, n object.Name) error {
	data, large, err := p.src.ReadArchived(n, inlineMax)
	if err != nil {
		return err
	}
	if large != nil {
		defer large.Close()
	}
	return p.put(ctx, n, data, large)
}

func (p *publisher) put(ctx context.Context, n object.Name, data []byte, large io.Reader) error {
	o := bucket.PutOptions{CacheControl: p.cacheObjects()}
	if n.Type == object.CommitMeta {
		o.CacheControl = p.cacheMutable() // signatures are added to it
	}
	var size uint64
	if large != nil {
		cr := &countReader{r: large}
		if err := p.st.PutLarge(ctx, objectKey(n), cr, o); err != nil {
			return err
		}
		size = cr.n
	} else {
		if n.Type.IsMeta() && n.Type != object.CommitMeta {
			sum := [32]byte(n.Checksum) // the SHA-256 of its bytes, as ReadArchived checked
			o.SHA256 = &sum
		}
		if _, err := p.st.Put(ctx, objectKey(n), data, o); err != nil {
			return err
		}
		if n.Type == object.CommitMeta {
			p.changed(objectKey(n)) // replaced: a CDN may hold the one before
		}
		size = uint64(len(data))
	}
	sent := p.sentObjects.Add(1)
	bytes := p.sentBytes.Add(size)
	if p.opts.Progress != nil {
		p.opts.Progress(transfer.PushProgress{ObjectsSent: sent, ObjectsTotal: p.total, BytesSent: bytes})
	}
	return nil
}

type countReader struct {
	r io.Reader
	n uint64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += uint64(n)
	return n, err
}
