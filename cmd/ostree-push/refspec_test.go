package main

import (
	"testing"

	"github.com/ostree-push/ostree-push/pkg/transfer"
)

func TestParseRefspec(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want transfer.PushSpec
		err  bool
	}{
		{in: "os/main", want: transfer.PushSpec{Src: "os/main", Dst: transfer.RefName{Name: "os/main"}}},
		{in: "os/main^:os/old", want: transfer.PushSpec{Src: "os/main^", Dst: transfer.RefName{Name: "os/old"}}},
		{in: ":gone", want: transfer.PushSpec{Dst: transfer.RefName{Name: "gone"}}},
		{in: "+a:b", want: transfer.PushSpec{Src: "a", Dst: transfer.RefName{Name: "b"}, Force: true}},
		{in: "+main", want: transfer.PushSpec{Src: "main", Dst: transfer.RefName{Name: "main"}, Force: true}},
		{in: "a:", err: true},
		{in: ":", err: true},
		{in: "a:b:c", err: true},
		{in: "a:bad name", err: true},
		{in: "a:../up", err: true},
	} {
		got, err := parseRefspec(tc.in)
		if tc.err != (err != nil) || (!tc.err && got != tc.want) {
			t.Errorf("#%d parseRefspec(%q) = %+v, %v; want %+v (error %v)", i, tc.in, got, err, tc.want, tc.err)
		}
	}
}
