package revocation

import (
	"github.com/agentcert/agentcert/errcode"
)

// Status values of the IETF Token Status List (section 7.1). Values 3 and
// 0x0C-0x0F are application specific; other values are reserved.
const (
	StatusValid     uint8 = 0 // VALID
	StatusRevoked   uint8 = 1 // INVALID: revoked, final
	StatusSuspended uint8 = 2 // SUSPENDED: may return to VALID
)

// List is a status array of n entries of 1, 2, 4 or 8 bits each. The packed
// bytes use the IETF layout: entry i lives in byte i*bits/8 at bit offset
// (i*bits)%8 counted from the least significant bit. Reads and writes are
// O(1). A List is not safe for concurrent writes; concurrent reads are fine.
type List struct {
	bits int
	n    int
	b    []byte
}

func validBits(bits int) bool {
	return bits == 1 || bits == 2 || bits == 4 || bits == 8
}

// NewList returns an all-zero (all VALID) list of entries entries of bits
// bits each. bits must be 1, 2, 4 or 8 and entries at least 1.
func NewList(entries, bits int) (*List, error) {
	if !validBits(bits) {
		return nil, errcode.New(errcode.InvalidInput, "bits must be 1, 2, 4 or 8, got %d", bits)
	}
	if entries < 1 {
		return nil, errcode.New(errcode.InvalidInput, "a status list needs at least one entry, got %d", entries)
	}
	if entries > (1<<31-1)/bits {
		return nil, errcode.New(errcode.TooLarge, "status list of %d entries is too large", entries)
	}
	return &List{bits: bits, n: entries, b: make([]byte, (entries*bits+7)/8)}, nil
}

// ListFromBytes wraps a copy of raw IETF-layout bytes (LSB first) as a list of
// len(b)*8/bits entries.
func ListFromBytes(b []byte, bits int) (*List, error) {
	if !validBits(bits) {
		return nil, errcode.New(errcode.StatusInvalid, "bits must be 1, 2, 4 or 8, got %d", bits)
	}
	if len(b) == 0 {
		return nil, errcode.New(errcode.StatusInvalid, "empty status list")
	}
	c := make([]byte, len(b))
	copy(c, b)
	return &List{bits: bits, n: len(b) * 8 / bits, b: c}, nil
}

// Len returns the number of entries.
func (l *List) Len() int { return l.n }

// Bits returns the number of bits per entry.
func (l *List) Bits() int { return l.bits }

// Bytes returns a copy of the packed bytes in IETF layout.
func (l *List) Bytes() []byte {
	c := make([]byte, len(l.b))
	copy(c, l.b)
	return c
}

// Get returns the status of entry i. An index outside [0, Len()) is a
// status_invalid error (draft-ietf-oauth-status-list section 8.3 step 6).
func (l *List) Get(i int) (uint8, error) {
	if i < 0 || i >= l.n {
		return 0, errcode.New(errcode.StatusInvalid, "status index %d out of range [0,%d)", i, l.n)
	}
	return l.get(i), nil
}

func (l *List) get(i int) uint8 {
	pos := i * l.bits
	mask := byte(1<<l.bits - 1)
	return (l.b[pos>>3] >> (pos & 7)) & mask
}

// Set sets entry i to v. v must fit in Bits() bits.
func (l *List) Set(i int, v uint8) error {
	if i < 0 || i >= l.n {
		return errcode.New(errcode.InvalidInput, "status index %d out of range [0,%d)", i, l.n)
	}
	if l.bits < 8 && v >= 1<<l.bits {
		return errcode.New(errcode.InvalidInput, "status value %d does not fit in %d bits", v, l.bits)
	}
	pos := i * l.bits
	mask := byte(1<<l.bits - 1)
	sh := pos & 7
	l.b[pos>>3] = l.b[pos>>3]&^(mask<<sh) | v<<sh
	return nil
}

// Project returns a 1-bit list of the same length in which entry i is set
// iff l's entry i equals value. It is the per-purpose W3C view of a
// multi-bit list: Project(StatusRevoked) for statusPurpose "revocation",
// Project(StatusSuspended) for "suspension".
func (l *List) Project(value uint8) *List {
	p := &List{bits: 1, n: l.n, b: make([]byte, (l.n+7)/8)}
	if l.bits == 1 {
		switch value {
		case 1:
			copy(p.b, l.b)
			p.clearTail()
		case 0:
			for i := range p.b {
				p.b[i] = ^l.b[i]
			}
			p.clearTail()
		}
		return p
	}
	for i := 0; i < l.n; i++ {
		if l.get(i) == value {
			p.b[i>>3] |= 1 << (i & 7)
		}
	}
	return p
}

// clearTail zeroes the padding bits after the last entry of a 1-bit list.
func (l *List) clearTail() {
	if r := l.n & 7; r != 0 && l.bits == 1 {
		l.b[len(l.b)-1] &= byte(1<<r - 1)
	}
}

// RequireLen checks that a decoded list holds exactly entries entries (the
// length its publisher states, e.g. an issuer's configured list size): a
// list of any other length is status_invalid. Decoders accept any whole
// number of bytes because neither format carries the entry count.
func (l *List) RequireLen(entries int) error {
	want := (entries*l.bits + 7) / 8
	if entries <= 0 || len(l.b) != want {
		return errcode.New(errcode.StatusInvalid, "status list has %d bytes, %d entries of %d bits need exactly %d", len(l.b), entries, l.bits, want)
	}
	return nil
}
