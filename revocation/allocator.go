package revocation

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/agentcert/agentcert/errcode"
)

// OpenListAt is the fill ratio at which the allocator stops drawing from a
// list and opens the next one, so that a random draw needs at most about
// 1/(1-OpenListAt) tries on average and no list is ever filled to the brim.
const OpenListAt = 0.5

// ListOpener creates and durably records a new status list of size entries
// and returns its id.
type ListOpener func(ctx context.Context, size int) (string, error)

// Allocator hands out status list indexes: random (crypto/rand), never
// handed out twice, never reused, O(1) expected per allocation. It is safe
// for concurrent use.
type Allocator struct {
	mu      sync.Mutex
	size    int
	open    ListOpener
	current *allocList
	buf     [8]byte
}

type allocList struct {
	id    string
	used  []uint64
	count int
}

// NewAllocator returns an allocator over lists of size entries. current, if
// non-empty, is the list to continue with and used the indexes it already
// assigned (read back from the store at start-up).
func NewAllocator(size int, open ListOpener, current string, used []int) (*Allocator, error) {
	if size <= 0 || open == nil {
		return nil, fmt.Errorf("revocation: allocator needs a positive size and a list opener")
	}
	a := &Allocator{size: size, open: open}
	if current != "" {
		l := &allocList{id: current, used: make([]uint64, (size+63)/64)}
		for _, i := range used {
			if i < 0 || i >= size {
				return nil, fmt.Errorf("revocation: list %s: used index %d out of range", current, i)
			}
			if l.used[i/64]&(1<<(i%64)) == 0 {
				l.used[i/64] |= 1 << (i % 64)
				l.count++
			}
		}
		a.current = l
	}
	return a, nil
}

// Allocate returns a fresh (list id, index) pair.
func (a *Allocator) Allocate(ctx context.Context) (string, int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.current == nil || float64(a.current.count+1) > OpenListAt*float64(a.size) {
		id, err := a.open(ctx, a.size)
		if err != nil {
			return "", 0, fmt.Errorf("revocation: open status list: %w", err)
		}
		a.current = &allocList{id: id, used: make([]uint64, (a.size+63)/64)}
	}
	l := a.current
	for {
		if _, err := rand.Read(a.buf[:]); err != nil {
			return "", 0, errcode.Wrap(errcode.Internal, err, "random index")
		}
		i := int(binary.LittleEndian.Uint64(a.buf[:]) % uint64(a.size))
		if l.used[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		l.used[i/64] |= 1 << (i % 64)
		l.count++
		return l.id, i, nil
	}
}
