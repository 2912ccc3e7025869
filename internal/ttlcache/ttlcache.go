// Package ttlcache is a bounded, least-recently-used cache whose entries
// expire at a time the caller gives. It is safe for concurrent use. The DID
// resolver, the status-list client and the verifier's issuer-metadata cache
// share it.
package ttlcache

import (
	"container/list"
	"sync"
	"time"
)

// Cache holds at most Max entries; Get never returns an expired one.
type Cache[V any] struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *entry[V], most recently used at the front
	items map[string]*list.Element
}

type entry[V any] struct {
	key     string
	val     V
	expires time.Time
}

// New returns a cache of at most max entries (at least 1) on the clock now
// (time.Now when nil).
func New[V any](max int, now func() time.Time) *Cache[V] {
	if max < 1 {
		max = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[V]{max: max, now: now, lru: list.New(), items: map[string]*list.Element{}}
}

// Get returns the value stored under key if it has not expired, and marks it
// recently used. An expired entry is dropped.
func (c *Cache[V]) Get(key string) (V, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[V])
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.lru.MoveToFront(el)
	return e.val, true
}

// DeleteIf drops the entry under key when match reports true of its
// value, in one step (a value stored meanwhile is judged, not the one the
// caller saw), and tells whether it did.
func (c *Cache[V]) DeleteIf(key string, match func(V) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok || !match(el.Value.(*entry[V]).val) {
		return false
	}
	c.lru.Remove(el)
	delete(c.items, key)
	return true
}

// Put stores val under key until expires, evicting the least recently used
// entries beyond the bound.
func (c *Cache[V]) Put(key string, val V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = &entry[V]{key: key, val: val, expires: expires}
		c.lru.MoveToFront(el)
		return
	}
	c.items[key] = c.lru.PushFront(&entry[V]{key: key, val: val, expires: expires})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*entry[V]).key)
	}
}

// Len returns the number of entries held, expired ones included until they
// are looked up or evicted.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
