package did

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

// countingResolver returns a minimal document per DID and counts calls.
type countingResolver struct {
	calls atomic.Int32
	fail  atomic.Bool
	gate  chan struct{} // when set, every call waits for it
}

func (c *countingResolver) Resolve(ctx context.Context, did string) (*Document, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if c.fail.Load() {
		return nil, errcode.New(errcode.DIDResolutionFailed, "down")
	}
	return &Document{ID: did}, nil
}

func TestCachingResolverTTL(t *testing.T) {
	next := &countingResolver{}
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	r := NewCachingResolver(next, time.Minute, 10, clock.Now)
	ctx := context.Background()
	resolve := func(did string, wantCalls int32) {
		t.Helper()
		doc, err := r.Resolve(ctx, did)
		if err != nil || doc.ID != did {
			t.Fatalf("Resolve(%s) = %v, %v", did, doc, err)
		}
		if n := next.calls.Load(); n != wantCalls {
			t.Fatalf("after Resolve(%s): %d calls, want %d", did, n, wantCalls)
		}
	}
	resolve("did:example:a", 1)
	resolve("did:example:a", 1)
	clock.Advance(59 * time.Second)
	resolve("did:example:a", 1)
	clock.Advance(time.Second) // exactly ttl: expired
	resolve("did:example:a", 2)
	resolve("did:example:a", 2)

	// Failures are not cached.
	next.fail.Store(true)
	_, err := r.Resolve(ctx, "did:example:b")
	testkit.WantCode(t, err, errcode.DIDResolutionFailed)
	_, err = r.Resolve(ctx, "did:example:b")
	testkit.WantCode(t, err, errcode.DIDResolutionFailed)
	if n := next.calls.Load(); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}
	next.fail.Store(false)
	resolve("did:example:b", 5)
	resolve("did:example:b", 5)
}

func TestCachingResolverBound(t *testing.T) {
	next := &countingResolver{}
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	r := NewCachingResolver(next, time.Hour, 2, clock.Now).(*cachingResolver)
	ctx := context.Background()
	for _, did := range []string{"did:example:a", "did:example:b", "did:example:a", "did:example:c"} {
		if _, err := r.Resolve(ctx, did); err != nil {
			t.Fatal(err)
		}
	}
	// a was used after b, so b is the least recently used and was evicted.
	if n := next.calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	if n := r.cache.Len(); n != 2 {
		t.Fatalf("%d entries", n)
	}
	r.Resolve(ctx, "did:example:a")
	r.Resolve(ctx, "did:example:c")
	if n := next.calls.Load(); n != 3 {
		t.Fatalf("a and c should be cached: %d calls", n)
	}
	r.Resolve(ctx, "did:example:b")
	if n := next.calls.Load(); n != 4 {
		t.Fatalf("b should have been evicted: %d calls", n)
	}
	for i := 0; i < 100; i++ {
		r.Resolve(ctx, "did:example:"+string(rune('d'+i%20)))
	}
	if n := r.cache.Len(); n != 2 {
		t.Fatalf("%d entries, bound is 2", n)
	}
}

// TestCachingResolverSingleflight: concurrent resolutions of one DID make
// one call. The clock moves an hour per reading so that nothing ever stays
// cached: only the collapse of in-flight calls can keep the count at 1.
func TestCachingResolverSingleflight(t *testing.T) {
	next := &countingResolver{gate: make(chan struct{})}
	var reads atomic.Int32
	clock := func() time.Time {
		n := reads.Add(1)
		return time.Unix(1_700_000_000, 0).Add(time.Duration(n) * time.Hour)
	}
	r := NewCachingResolver(next, time.Minute, 10, clock)
	const n = 16
	var wg sync.WaitGroup
	var started atomic.Int32
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			doc, err := r.Resolve(context.Background(), "did:example:x")
			if err == nil && doc.ID != "did:example:x" {
				err = errcode.New(errcode.Internal, "wrong doc")
			}
			errs <- err
		}()
	}
	// Wait until every caller has started and had time to join the flight,
	// then let the one call finish. (Waiting on clock readings instead could
	// hang: a caller that joins a flight need not read the clock.)
	for started.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(next.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := next.calls.Load(); c != 1 {
		t.Fatalf("%d calls, want 1", c)
	}
}

func TestCachingResolverCallerCancel(t *testing.T) {
	next := &countingResolver{gate: make(chan struct{})}
	r := NewCachingResolver(next, time.Minute, 10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.Resolve(ctx, "did:example:x")
		done <- err
	}()
	for next.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	testkit.WantCode(t, <-done, errcode.DIDResolutionFailed)
	// The shared call was not cancelled; its result is cached.
	close(next.gate)
	doc, err := r.Resolve(context.Background(), "did:example:x")
	if err != nil || doc.ID != "did:example:x" {
		t.Fatal(err)
	}
	if c := next.calls.Load(); c != 1 {
		t.Fatalf("%d calls, want 1", c)
	}
}

func TestCachingResolverNilDocument(t *testing.T) {
	r := NewCachingResolver(ResolverFunc(func(context.Context, string) (*Document, error) { return nil, nil }), 0, 0, nil)
	_, err := r.Resolve(context.Background(), "did:example:x")
	testkit.WantCode(t, err, errcode.DIDResolutionFailed)
}
