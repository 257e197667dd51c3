package libostree_test

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/libostree"
)

// callAll calls every exported method of v (a pointer) with zero
// arguments (a nil *Repo argument is replaced by other, an open
// repository) and hands each method's name and results to check. A method
// that crashes the process fails the whole run: that is the point.
func callAll(t *testing.T, v any, other *libostree.Repo, check func(name string, out []reflect.Value)) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := 0; i < rv.NumMethod(); i++ {
		m := rv.Type().Method(i)
		fn := rv.Method(i)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			in := fn.Type().In(j)
			switch {
			case in == reflect.TypeOf(other):
				args[j] = reflect.ValueOf(other)
			case fn.Type().IsVariadic() && j == len(args)-1:
				args[j] = reflect.MakeSlice(in, 1, 1) // one zero element
			default:
				args[j] = reflect.Zero(in)
			}
		}
		var out []reflect.Value
		if fn.Type().IsVariadic() {
			out = fn.CallSlice(args)
		} else {
			out = fn.Call(args)
		}
		check(m.Name, out)
	}
}

// lastError is the error among a method's results, or nil when it returns
// none.
func lastError(out []reflect.Value) (err error, has bool) {
	errType := reflect.TypeOf((*error)(nil)).Elem()
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].Type() == errType {
			if out[i].IsNil() {
				return nil, true
			}
			return out[i].Interface().(error), true
		}
	}
	return nil, false
}

// TestMethodsAfterClose: every method of a closed Repo, and of a Txn whose
// Repo was closed, returns ErrClosed (or ErrTransactionDone) or a zero
// value; none reaches libostree with a freed or NULL repository.
func TestMethodsAfterClose(t *testing.T) {
	other := create(t, libostree.ModeArchive)
	r, err := libostree.Create(t.TempDir(), libostree.ModeArchive, nil)
	if err != nil {
		t.Fatal(err)
	}
	txn, _, err := r.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	callAll(t, r, other, func(name string, out []reflect.Value) {
		err, has := lastError(out)
		switch {
		case name == "Close":
			if err != nil {
				t.Errorf("Close again: %v", err)
			}
		case has:
			if !errors.Is(err, libostree.ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		case name == "Path":
		default:
			for _, o := range out {
				if !o.IsZero() {
					t.Errorf("%s after Close: %v, want a zero value", name, o)
				}
			}
		}
	})
	callAll(t, txn, other, func(name string, out []reflect.Value) {
		err, has := lastError(out)
		switch {
		case name == "Abort" || name == "Discard":
			// Ending an ended transaction is harmless.
		case has:
			if !errors.Is(err, libostree.ErrTransactionDone) && !errors.Is(err, libostree.ErrClosed) {
				t.Errorf("Txn.%s after its Repo's Close: %v, want ErrTransactionDone", name, err)
			}
		}
	})
}

// TestTxnConcurrentRefs: refs staged from several goroutines at once, as
// the write methods may be called, all land (run with -race).
func TestTxnConcurrentRefs(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	r := create(t, libostree.ModeArchive)
	copyCommit(t, s, r, src.commit, func(txn *libostree.Txn) {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					if err := txn.SetRef(fmt.Sprintf("g%d/r%d", g, i), src.commit); err != nil {
						t.Error(err)
					}
					txn.Done()
				}
			}()
		}
		wg.Wait()
	})
	refs, err := r.ListRefs("")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 8*20 {
		t.Errorf("%d refs, want %d", len(refs), 8*20)
	}
}
