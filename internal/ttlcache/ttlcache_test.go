package ttlcache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestExpiryAndLRU(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := New[int](2, func() time.Time { return now })
	c.Put("a", 1, now.Add(time.Minute))
	c.Put("b", 2, now.Add(time.Second))
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("a = %v %v", v, ok)
	}
	c.Put("c", 3, now.Add(time.Minute)) // evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Fatal("b should have been evicted")
	}
	if c.Len() != 2 {
		t.Fatalf("len %d, bound 2", c.Len())
	}
	c.Put("a", 10, now.Add(time.Second))
	now = now.Add(time.Second)
	if _, ok := c.Get("a"); ok {
		t.Fatal("a expired at exactly its expiry and must not be returned")
	}
	if v, ok := c.Get("c"); !ok || v != 3 {
		t.Fatalf("c = %v %v", v, ok)
	}
	if c.Len() != 1 {
		t.Fatalf("expired entry not dropped on lookup: len %d", c.Len())
	}
	if New[int](0, nil).max != 1 {
		t.Fatal("a bound below 1 must become 1")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[string](16, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := fmt.Sprint((g + i) % 40)
				c.Put(k, k, time.Now().Add(time.Minute))
				if v, ok := c.Get(k); ok && v != k {
					t.Errorf("%s holds %s", k, v)
				}
			}
		}(g)
	}
	wg.Wait()
	if c.Len() > 16 {
		t.Fatalf("len %d over the bound", c.Len())
	}
}

func TestDeleteIf(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := New[int](4, func() time.Time { return now })
	c.Put("a", 1, now.Add(time.Minute))
	if c.DeleteIf("a", func(v int) bool { return v == 2 }) {
		t.Fatal("deleted a value the match refused")
	}
	if c.DeleteIf("missing", func(int) bool { return true }) {
		t.Fatal("deleted a missing key")
	}
	if !c.DeleteIf("a", func(v int) bool { return v == 1 }) {
		t.Fatal("kept a value the match accepted")
	}
	if _, ok := c.Get("a"); ok || c.Len() != 0 {
		t.Fatalf("a still held (len %d)", c.Len())
	}
}
