package gvariant

// Copying serialized values without reading them again: ValueNormal for
// one value, Elements and CopyElements for runs of an array's elements.

// Elements is an array read once for random access and block copies: the
// end of every element, from the array's framing, so that Index costs no
// more than a slice and a run of elements can be copied into a Builder as
// one block (CopyElements). Use it on large arrays that are mostly copied
// as they are, such as the refs of a summary of 100,000 refs.
type Elements struct {
	v    Value
	ends []int // end of each element, from the array's start
}

// Elements reads the framing of array v: every framing offset, each
// within the array and not before the one before it. It does not read the
// elements themselves.
func (v Value) Elements() (Elements, error) {
	if v.code() != 'a' {
		return Elements{}, v.errorf("read as an array")
	}
	n, table, err := v.arrayFrame()
	if err != nil {
		return Elements{}, err
	}
	e := Elements{v: v, ends: make([]int, n)}
	fs := v.t.elem.fixed
	if fs != 0 {
		for i := range e.ends {
			e.ends[i] = (i + 1) * fs
		}
		return e, nil
	}
	w := offsetSize(len(v.data))
	prev := 0
	for i := range e.ends {
		end := int(readOffset(v.data[table+i*w : table+(i+1)*w]))
		start := alignUp(prev, v.t.elem.align)
		if start > end || end > table {
			return Elements{}, v.errorf("element %d ends at %d, before its start %d or beyond the elements' end %d", i, end, start, table)
		}
		e.ends[i] = end
		prev = end
	}
	return e, nil
}

// Len is the number of elements.
func (e Elements) Len() int { return len(e.ends) }

// start is where element i starts: the end of the one before, aligned.
func (e Elements) start(i int) int {
	if i == 0 {
		return 0
	}
	return alignUp(e.ends[i-1], e.v.t.elem.align)
}

// Index returns element i, as Value.Index does, without reading the
// framing again.
func (e Elements) Index(i int) (Value, error) {
	if i < 0 || i >= len(e.ends) {
		return Value{}, e.v.errorf("no element %d of %d", i, len(e.ends))
	}
	if e.v.depth+1 >= MaxDepth {
		return e.v.Index(i) // the same error
	}
	return e.v.child(e.v.t.elem, e.start(i), e.ends[i]), nil
}

// CopyElements writes elements i to j-1 of e into the array being written
// (opened with Open, of e's type), in one block: as ValueNormal writes
// each, so e's array must be in normal form and in the Builder's byte
// order (else each is written as Value writes it).
func (b *Builder) CopyElements(e Elements, i, j int) {
	if b.err != nil || i >= j {
		return
	}
	if i < 0 || j > len(e.ends) {
		b.fail("elements %d to %d of %d", i, j, len(e.ends))
		return
	}
	if len(b.stack) == 0 || b.stack[len(b.stack)-1].t.s != e.v.t.s {
		b.fail("elements of a %s where no such array is open", Type{e.v.t})
		return
	}
	if e.v.be != b.be {
		for k := i; k < j; k++ {
			c, err := e.Index(k)
			if err != nil {
				b.fail("%v", err)
				return
			}
			b.Value(c)
		}
		return
	}
	f := &b.stack[len(b.stack)-1]
	elem := e.v.t.elem
	b.pad(elem.align)
	start := e.start(i)
	base := len(b.buf) - f.start - start // where the block's offsets move
	b.buf = append(b.buf, e.v.data[start:e.ends[j-1]]...)
	if elem.fixed == 0 {
		for k := i; k < j; k++ {
			b.ends = append(b.ends, e.ends[k]+base)
		}
	}
	f.n += j - i
}

// ValueNormal writes v by copying its bytes: what Value writes, without
// reading v again. v must be in normal form (it passed CheckNormal, or is
// part of a value that did): a serialized value in normal form is the same
// bytes wherever it is placed at its alignment. In another byte order than
// the Builder's, v is written as Value writes it.
func (b *Builder) ValueNormal(v Value) {
	if b.err != nil {
		return
	}
	if v.be != b.be {
		b.Value(v)
		return
	}
	t := b.next()
	if t == nil {
		return
	}
	if v.t == nil || t.s != v.t.s {
		b.fail("a value of type %s where a %s is expected", Type{v.t}, t.s)
		return
	}
	if t.fixed != 0 && len(v.data) != t.fixed {
		b.fail("a %s of %d bytes, not %d", t.s, len(v.data), t.fixed)
		return
	}
	b.pad(t.align)
	b.buf = append(b.buf, v.data...)
	b.end()
}
