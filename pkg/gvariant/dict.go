package gvariant

// DictEntry is one entry of a dictionary with string keys (a{sv}, a{ss},
// a{sa(...)}, ...): its key, and its value still serialized.
type DictEntry struct {
	Key   string
	Value Value
}

// Entries reads a dictionary with string keys, in its order (GLib keeps
// whatever order the writer chose). Keys may repeat: GLib's lookups take
// the first.
func (v Value) Entries() ([]DictEntry, error) {
	if v.code() != 'a' || v.t.elem.code != '{' || v.t.elem.fields[0].code != 's' {
		return nil, v.errorf("read as a dictionary with string keys")
	}
	n, err := v.Len()
	if err != nil {
		return nil, err
	}
	out := make([]DictEntry, n)
	for i := range out {
		e, err := v.Index(i)
		if err != nil {
			return nil, err
		}
		k, err := e.Index(0)
		if err != nil {
			return nil, err
		}
		if out[i].Key, err = k.Str(); err != nil {
			return nil, err
		}
		if out[i].Value, err = e.Index(1); err != nil {
			return nil, err
		}
	}
	return out, nil
}
