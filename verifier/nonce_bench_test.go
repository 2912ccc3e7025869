package verifier

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// sweepStore is the spent-nonce set as it was before MemorySpentStore,
// kept here as the benchmark's baseline: a map that, once full, is swept
// entry by entry under its lock.
type sweepStore struct {
	max  int
	now  func() time.Time
	mu   sync.Mutex
	seen map[string]time.Time
}

func (s *sweepStore) Spend(_ context.Context, id string, exp time.Time) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[id]; dup {
		return false, nil
	}
	if len(s.seen) >= s.max {
		for k, e := range s.seen {
			if !now.Before(e) {
				delete(s.seen, k)
			}
		}
		if len(s.seen) >= s.max {
			return false, errcode.New(errcode.RateLimited, "full")
		}
	}
	s.seen[id] = exp
	return true, nil
}

// BenchmarkSec04SpendFullSet spends nonces into a full set of
// DefaultMaxNonces (2^20) live entries. Nonces expire on whole seconds
// (Issue truncates), spread over a 5-minute lifetime, and the clock moves
// so that as many expire as are spent: the set stays full. ns/op is the
// mean cost of a Spend; max-ns is the longest single Spend, during which
// the lock is held and every other verification waits. The baseline
// "full-sweep" is the map swept entry by entry that MemorySpentStore
// replaced. Run with a fixed count, e.g. -benchtime=20000x.
func BenchmarkSec04SpendFullSet(b *testing.B) {
	const n = DefaultMaxNonces
	const ttlSeconds = 300
	perSec := n / ttlSeconds
	for _, impl := range []struct {
		name string
		mk   func(now func() time.Time) SpentStore
	}{
		{"expiry-ordered", func(now func() time.Time) SpentStore { return NewMemorySpentStore(n, now) }},
		{"full-sweep", func(now func() time.Time) SpentStore {
			return &sweepStore{max: n, now: now, seen: make(map[string]time.Time, n)}
		}},
	} {
		b.Run(impl.name, func(b *testing.B) {
			ctx := context.Background()
			base := time.Unix(1_800_000_000, 0)
			clock := base
			s := impl.mk(func() time.Time { return clock })
			// Entry i expires at second i/perSec + 1: perSec entries a second.
			for i := 0; i < n; i++ {
				if fresh, err := s.Spend(ctx, "fill-"+strconv.Itoa(i), base.Add(time.Duration(i/perSec+1)*time.Second)); !fresh || err != nil {
					b.Fatalf("fill %d: %v %v", i, fresh, err)
				}
			}
			var worst time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clock = base.Add(time.Duration(i/perSec+1) * time.Second)
				start := time.Now()
				fresh, err := s.Spend(ctx, "n-"+strconv.Itoa(i), clock.Add(ttlSeconds*time.Second))
				if d := time.Since(start); d > worst {
					worst = d
				}
				if !fresh || err != nil {
					b.Fatalf("spend %d: %v %v", i, fresh, err)
				}
			}
			b.ReportMetric(float64(worst.Nanoseconds()), "max-ns")
		})
	}
}
