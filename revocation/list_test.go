package revocation

import (
	"bytes"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

func TestNewListErrors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		entries, bits int
		code          errcode.Code
	}{
		{"bits 0", 8, 0, errcode.InvalidInput},
		{"bits 3", 8, 3, errcode.InvalidInput},
		{"bits 16", 8, 16, errcode.InvalidInput},
		{"no entries", 0, 2, errcode.InvalidInput},
		{"negative entries", -1, 2, errcode.InvalidInput},
		{"too many entries", 1 << 30, 8, errcode.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewList(tc.entries, tc.bits)
			testkit.WantCode(t, err, tc.code)
		})
	}
}

func TestSetGetEveryWidth(t *testing.T) {
	for _, bits := range []int{1, 2, 4, 8} {
		n := 37 // not a multiple of 8: exercises the last partial byte
		l := mustList(t, n, bits, nil)
		if l.Len() != n || l.Bits() != bits || len(l.Bytes()) != (n*bits+7)/8 {
			t.Fatalf("bits %d: Len %d Bits %d bytes %d", bits, l.Len(), l.Bits(), len(l.Bytes()))
		}
		max := uint8(1<<bits - 1)
		want := make([]uint8, n)
		for i := range want {
			want[i] = uint8(i*7+3) & max
			if err := l.Set(i, want[i]); err != nil {
				t.Fatal(err)
			}
		}
		// Overwrite one entry in the middle; its neighbours must not move.
		want[10] = max
		if err := l.Set(10, max); err != nil {
			t.Fatal(err)
		}
		want[10] = 0
		if err := l.Set(10, 0); err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			got, err := l.Get(i)
			if err != nil || got != w {
				t.Fatalf("bits %d: Get(%d) = %d, %v; want %d", bits, i, got, err, w)
			}
		}
		if bits < 8 {
			testkit.WantCode(t, l.Set(0, max+1), errcode.InvalidInput)
		}
		testkit.WantCode(t, l.Set(n, 0), errcode.InvalidInput)
		testkit.WantCode(t, l.Set(-1, 0), errcode.InvalidInput)
		_, err := l.Get(n)
		testkit.WantCode(t, err, errcode.StatusInvalid)
		_, err = l.Get(-1)
		testkit.WantCode(t, err, errcode.StatusInvalid)
	}
}

func TestSetIsLSBFirst(t *testing.T) {
	// draft-ietf-oauth-status-list section 4.1: index 0 is the least
	// significant bit(s) of byte 0.
	for _, tc := range []struct {
		bits int
		idx  int
		v    uint8
		want []byte
	}{
		{1, 0, 1, []byte{0x01}},
		{1, 7, 1, []byte{0x80}},
		{2, 0, 2, []byte{0x02}},
		{2, 3, 1, []byte{0x40}},
		{4, 1, 0xA, []byte{0xA0}},
		{8, 0, 0xC3, []byte{0xC3}},
	} {
		l := mustList(t, 8/tc.bits, tc.bits, map[int]uint8{tc.idx: tc.v})
		if got := l.Bytes(); !bytes.Equal(got, tc.want) {
			t.Errorf("bits %d Set(%d,%d): bytes %x, want %x", tc.bits, tc.idx, tc.v, got, tc.want)
		}
	}
}

func TestListFromBytes(t *testing.T) {
	// Section 4.1's 1-bit example: b9 a3.
	l, err := ListFromBytes([]byte{0xb9, 0xa3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}
	for i, w := range want {
		if got, _ := l.Get(i); got != w {
			t.Errorf("Get(%d) = %d, want %d", i, got, w)
		}
	}
	if l.Len() != 16 {
		t.Errorf("Len = %d", l.Len())
	}
	_, err = ListFromBytes(nil, 1)
	testkit.WantCode(t, err, errcode.StatusInvalid)
	_, err = ListFromBytes([]byte{1}, 5)
	testkit.WantCode(t, err, errcode.StatusInvalid)

	// ListFromBytes and Bytes copy.
	src := []byte{0xff}
	l, _ = ListFromBytes(src, 8)
	src[0] = 0
	b := l.Bytes()
	b[0] = 1
	if got, _ := l.Get(0); got != 0xff {
		t.Errorf("list shares memory with its input or output: %x", got)
	}
}

func TestProject(t *testing.T) {
	set := map[int]uint8{0: 1, 3: 2, 4: 1, 9: 3, 10: 2}
	l := mustList(t, 11, 2, set)
	for _, value := range []uint8{0, 1, 2, 3} {
		p := l.Project(value)
		if p.Bits() != 1 || p.Len() != l.Len() {
			t.Fatalf("Project(%d): %d bits, %d entries", value, p.Bits(), p.Len())
		}
		for i := 0; i < l.Len(); i++ {
			got, _ := p.Get(i)
			if want := set[i] == value; (got == 1) != want {
				t.Errorf("Project(%d)[%d] = %d", value, i, got)
			}
		}
	}
	// A 1-bit list: projections never leak into the padding bits.
	one := mustList(t, 11, 1, map[int]uint8{2: 1})
	zero := one.Project(0)
	if b := zero.Bytes(); b[1] != 0x07 || b[0] != 0xfb {
		t.Errorf("Project(0) of 1-bit list: bytes %x, want fb07", b)
	}
	if b := one.Project(1).Bytes(); b[0] != 0x04 || b[1] != 0 {
		t.Errorf("Project(1) of 1-bit list: bytes %x", b)
	}
	if b := one.Project(2).Bytes(); b[0] != 0 || b[1] != 0 {
		t.Errorf("Project(2) of 1-bit list: bytes %x", b)
	}
}

func TestRequireLen(t *testing.T) {
	l, err := NewList(131072, 2)
	if err != nil {
		t.Fatal(err)
	}
	lst, err := l.EncodeIETF()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeIETF(lst, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.RequireLen(131072); err != nil {
		t.Fatalf("exact length refused: %v", err)
	}
	for _, n := range []int{131064, 131080, 262144, 0, -8} {
		testkit.WantCode(t, got.RequireLen(n), errcode.StatusInvalid)
	}
	w, _ := NewList(131072, 1)
	enc, _ := w.EncodeW3C()
	gotW, err := DecodeW3C(enc, MinW3CEntries, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := gotW.RequireLen(131072); err != nil {
		t.Fatalf("W3C exact length refused: %v", err)
	}
	testkit.WantCode(t, gotW.RequireLen(131073), errcode.StatusInvalid)
}
