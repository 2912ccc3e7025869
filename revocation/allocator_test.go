package revocation

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestAllocatorUniqueConcurrentAndOpensLists(t *testing.T) {
	const size = 1024
	var mu sync.Mutex
	opened := 0
	open := func(context.Context, int) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		opened++
		return fmt.Sprintf("L%d", opened), nil
	}
	a, err := NewAllocator(size, open, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000 // more than one list's worth at OpenListAt
	var wg sync.WaitGroup
	seen := sync.Map{}
	errs := make(chan error, n)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/8; i++ {
				id, idx, err := a.Allocate(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if idx < 0 || idx >= size {
					errs <- fmt.Errorf("index %d out of range", idx)
					return
				}
				if _, dup := seen.LoadOrStore(fmt.Sprintf("%s/%d", id, idx), true); dup {
					errs <- fmt.Errorf("index %s/%d handed out twice", id, idx)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if want := (n + size/2 - 1) / (size / 2); opened != want {
		t.Fatalf("opened %d lists, want %d (a new list before one passes %.0f%%)", opened, want, OpenListAt*100)
	}
}

func TestAllocatorResumesWithoutReuse(t *testing.T) {
	const size = 64
	used := []int{}
	for i := 0; i < 31; i++ {
		used = append(used, i)
	}
	a, err := NewAllocator(size, func(context.Context, int) (string, error) { return "next", nil }, "cur", used)
	if err != nil {
		t.Fatal(err)
	}
	id, idx, err := a.Allocate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id != "cur" || idx < 31 {
		t.Fatalf("got %s/%d: must continue list cur with an unused index", id, idx)
	}
	if id, _, _ = a.Allocate(context.Background()); id != "next" {
		t.Fatalf("list past %v full must give way to a new one, got %s", OpenListAt, id)
	}
	if _, err := NewAllocator(size, nil, "", nil); err == nil {
		t.Fatal("nil opener accepted")
	}
	if _, err := NewAllocator(size, func(context.Context, int) (string, error) { return "", nil }, "c", []int{64}); err == nil {
		t.Fatal("out-of-range used index accepted")
	}
}

func BenchmarkAllocate(b *testing.B) {
	n := 0
	a, _ := NewAllocator(131072, func(context.Context, int) (string, error) { n++; return fmt.Sprint(n), nil }, "", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := a.Allocate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
