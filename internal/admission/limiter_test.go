package admission

import (
	"context"
	"errors"
	"github.com/agentcert/agentcert/internal/testkit"
	"testing"
	"time"
)

func mustNew(t *testing.T, lim Limits) *Limiter {
	t.Helper()
	l, err := New(lim)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type result struct {
	tk  *Ticket
	err error
}

func acquireAsync(l *Limiter, ctx context.Context) <-chan result {
	ch := make(chan result, 1)
	go func() {
		tk, err := l.Acquire(ctx)
		ch <- result{tk, err}
	}()
	return ch
}

func TestNewRefusesBadLimits(t *testing.T) {
	for _, lim := range []Limits{
		{MaxConcurrent: 0, MaxQueue: 1, QueueTimeout: time.Second},
		{MaxConcurrent: 1, MaxQueue: -1, QueueTimeout: time.Second},
		{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: 0},
		{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: time.Second, OverloadAfter: -time.Millisecond, OverloadWait: time.Millisecond},
		{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: time.Second, OverloadAfter: time.Millisecond},
	} {
		if _, err := New(lim); err == nil {
			t.Errorf("New(%+v) accepted", lim)
		}
	}
	if _, err := New(Limits{MaxConcurrent: 1, MaxQueue: 0, QueueTimeout: time.Second}); err != nil {
		t.Errorf("no queue at all must be allowed: %v", err)
	}
}

// TestLimitAndQueueBound: MaxConcurrent callers are admitted at once, the
// next MaxQueue wait, and the one after them is refused without waiting.
func TestLimitAndQueueBound(t *testing.T) {
	l := mustNew(t, Limits{MaxConcurrent: 2, MaxQueue: 3, QueueTimeout: time.Hour})
	ctx := context.Background()
	var held []*Ticket
	for i := 0; i < 2; i++ {
		tk, err := l.Acquire(ctx)
		if err != nil || tk.Queued {
			t.Fatalf("caller %d: %v (queued %v), want admitted at once", i, err, tk != nil && tk.Queued)
		}
		held = append(held, tk)
	}
	var waiters []<-chan result
	for i := 0; i < 3; i++ {
		waiters = append(waiters, acquireAsync(l, ctx))
		testkit.Eventually(t, "the waiter is queued", func() bool { return l.Waiting() == i+1 })
	}
	if _, err := l.Acquire(ctx); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("past the queue bound: %v, want ErrQueueFull", err)
	}
	if l.Active() != 2 || l.Waiting() != 3 {
		t.Fatalf("active %d waiting %d, want 2 and 3", l.Active(), l.Waiting())
	}
	// Releasing admits the waiters in arrival order, one per slot.
	held[0].Release()
	held[0].Release() // a second release gives nothing back
	r := <-waiters[0]
	if r.err != nil || !r.tk.Queued {
		t.Fatalf("first waiter: %v, want admitted after queueing", r.err)
	}
	select {
	case r := <-waiters[1]:
		t.Fatalf("second waiter admitted (%v) with no free slot", r.err)
	default:
	}
	if l.Active() != 2 || l.Waiting() != 2 {
		t.Fatalf("after one release: active %d waiting %d, want 2 and 2", l.Active(), l.Waiting())
	}
	held[1].Release()
	r2 := <-waiters[1]
	r.tk.Release()
	r3 := <-waiters[2]
	for _, x := range []result{r2, r3} {
		if x.err != nil {
			t.Fatal(x.err)
		}
		x.tk.Release()
	}
	if l.Active() != 0 || l.Waiting() != 0 {
		t.Fatalf("all released: active %d waiting %d", l.Active(), l.Waiting())
	}
}

// TestQueueTimeout: a waiter whose slot never comes is refused after the
// queue timeout and leaves the queue.
func TestQueueTimeout(t *testing.T) {
	l := mustNew(t, Limits{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: 20 * time.Millisecond})
	tk := mustAcquire(t, l)
	defer tk.Release()
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("waited past the timeout: %v, want ErrQueueTimeout", err)
	}
	if l.Waiting() != 0 || l.Active() != 1 {
		t.Fatalf("after the timeout: waiting %d active %d, want 0 and 1", l.Waiting(), l.Active())
	}
}

// TestCancelledWaiterLeavesTheQueue: a waiter whose context ends (its
// client went away) leaves at once with the context's error, frees its
// place in the queue, and never takes a slot.
func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	l := mustNew(t, Limits{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: time.Hour})
	tk := mustAcquire(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	gone := acquireAsync(l, ctx)
	testkit.Eventually(t, "queued", func() bool { return l.Waiting() == 1 })
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("queue of one with one waiting: %v, want ErrQueueFull", err)
	}
	cancel()
	r := <-gone
	if !errors.Is(r.err, context.Canceled) || errors.Is(r.err, ErrQueueTimeout) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", r.err)
	}
	if l.Waiting() != 0 {
		t.Fatalf("the cancelled waiter still holds a place: waiting %d", l.Waiting())
	}
	// Its place is free again, and the slot goes to the next waiter.
	next := acquireAsync(l, context.Background())
	testkit.Eventually(t, "queued again", func() bool { return l.Waiting() == 1 })
	tk.Release()
	n := <-next
	if n.err != nil {
		t.Fatalf("the next waiter: %v", n.err)
	}
	if l.Active() != 1 {
		t.Fatalf("active %d, want only the next waiter", l.Active())
	}
	n.tk.Release()
}

// TestRecoversAfterOverload: after a burst far past the bounds, once the
// admitted callers are done, the limiter admits at once again.
func TestRecoversAfterOverload(t *testing.T) {
	l := mustNew(t, Limits{MaxConcurrent: 2, MaxQueue: 2, QueueTimeout: time.Hour})
	var held []*Ticket
	for i := 0; i < 2; i++ {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	var queued []<-chan result
	for i := 0; i < 2; i++ {
		queued = append(queued, acquireAsync(l, context.Background()))
	}
	testkit.Eventually(t, "queue full", func() bool { return l.Waiting() == 2 })
	shed := 0
	for i := 0; i < 100; i++ {
		if _, err := l.Acquire(context.Background()); errors.Is(err, ErrQueueFull) {
			shed++
		}
	}
	if shed != 100 {
		t.Fatalf("shed %d of 100 past the bounds", shed)
	}
	for _, tk := range held {
		tk.Release()
	}
	for _, q := range queued {
		r := <-q
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.tk.Release()
	}
	for i := 0; i < 10; i++ {
		tk, err := l.Acquire(context.Background())
		if err != nil || tk.Queued {
			t.Fatalf("after the overload, caller %d: %v, want admitted at once", i, err)
		}
		tk.Release()
	}
	if l.Active() != 0 || l.Waiting() != 0 {
		t.Fatalf("active %d waiting %d", l.Active(), l.Waiting())
	}
}

// TestNoQueue: with MaxQueue 0, a caller that finds no slot is refused.
func TestNoQueue(t *testing.T) {
	l := mustNew(t, Limits{MaxConcurrent: 1, MaxQueue: 0, QueueTimeout: time.Hour})
	tk, _ := l.Acquire(context.Background())
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("no queue: %v, want ErrQueueFull", err)
	}
	tk.Release()
	if tk2, err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		tk2.Release()
	}
}

// refused: the waiter was refused with ErrQueueTimeout.
func refused(t *testing.T, what string, ch <-chan result) {
	t.Helper()
	if r := <-ch; !errors.Is(r.err, ErrQueueTimeout) {
		t.Fatalf("%s: %v, want ErrQueueTimeout", what, r.err)
	}
}

// wantOverloaded fails with why unless l.Overloaded() is want.
func wantOverloaded(t *testing.T, l *Limiter, want bool, why string) {
	t.Helper()
	if l.Overloaded() != want {
		t.Fatal(why)
	}
}

// mustAcquire takes a slot that must be free.
func mustAcquire(t *testing.T, l *Limiter) *Ticket {
	t.Helper()
	tk, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// wantAdmittedAtOnce: a caller is admitted without queueing, and leaves.
func wantAdmittedAtOnce(t *testing.T, l *Limiter, when string) {
	t.Helper()
	tk, err := l.Acquire(context.Background())
	if err != nil || tk.Queued {
		t.Fatalf("%s: %v, want admitted at once", when, err)
	}
	tk.Release()
}

func newClocked(t *testing.T, lim Limits) (*Limiter, *testkit.Clock) {
	t.Helper()
	c := testkit.NewClock(time.Unix(1_700_000_000, 0))
	l, err := New(lim, WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

// queue starts a waiter and waits until it is in the queue (n waiting).
func queue(t *testing.T, l *Limiter, n int) <-chan result {
	t.Helper()
	ch := acquireAsync(l, context.Background())
	testkit.Eventually(t, "the waiter is queued", func() bool { return l.Waiting() == n })
	return ch
}

func admitted(t *testing.T, what string, ch <-chan result) *Ticket {
	t.Helper()
	r := <-ch
	if r.err != nil || !r.tk.Queued {
		t.Fatalf("%s: %v, want admitted after queueing", what, r.err)
	}
	return r.tk
}

func notYet(t *testing.T, what string, ch <-chan result) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s answered (%v) with no free slot", what, r.err)
	default:
	}
}

// The overload tests run on a fake clock with OverloadWait 1s (the real
// timers of waiters that join while overloaded then run 1s, far longer
// than the test takes to grant them) and OverloadAfter 100ms.
var overloadLimits = Limits{MaxConcurrent: 1, MaxQueue: 64, QueueTimeout: time.Hour, OverloadAfter: 100 * time.Millisecond, OverloadWait: time.Second}

// TestOverloadServesNewestFirst: a queue that has stayed long for
// OverloadAfter (here: its oldest waiter has waited OverloadWait, first
// come first served) is served newest first; before that, and once it has
// stayed short for OverloadAfter, first come first served.
func TestOverloadServesNewestFirst(t *testing.T) {
	l, clock := newClocked(t, overloadLimits)
	held := mustAcquire(t, l)
	a := queue(t, l, 1)
	clock.Advance(500 * time.Millisecond)
	b := queue(t, l, 2)
	clock.Advance(550 * time.Millisecond) // a has waited 1.05s: long for 50ms
	wantOverloaded(t, l, false, "long for 50ms, want overloaded only after 100ms")
	held.Release() // held 1.05s: the mean hold time
	ta := admitted(t, "the oldest waiter, before the overload", a)
	notYet(t, "the second waiter", b)

	clock.Advance(time.Second) // b has waited 1.55s, but is alone
	wantOverloaded(t, l, false, "one waiter for one slot: want not overloaded, however long it waits")
	c := queue(t, l, 2)
	clock.Advance(100 * time.Millisecond)
	wantOverloaded(t, l, true, "two waiters for one slot, 2 x 1.05s of work, for 100ms: want overloaded")
	ta.Release()
	tc := admitted(t, "the newest waiter, while overloaded", c)
	// b, from before the overload, has waited more than OverloadWait: it
	// was refused when the slot came free.
	refused(t, "the waiter from before the overload (want ErrQueueTimeout)", b)
	wantOverloaded(t, l, true, "the queue drained a moment ago: want still overloaded")
	clock.Advance(100 * time.Millisecond)
	wantOverloaded(t, l, false, "the queue has stayed short for OverloadAfter: want no longer overloaded")
	// Short for OverloadAfter: the next queue is first come first served.
	d := queue(t, l, 1)
	clock.Advance(10 * time.Millisecond)
	e := queue(t, l, 2)
	tc.Release()
	td := admitted(t, "the oldest waiter after the overload", d)
	notYet(t, "the newer waiter", e)
	td.Release()
	admitted(t, "the newer waiter", e).Release()
	if l.Active() != 0 || l.Waiting() != 0 {
		t.Fatalf("active %d waiting %d", l.Active(), l.Waiting())
	}
}

// TestOverloadCutsTheWait: once overloaded, a waiter that has waited
// OverloadWait is refused (ErrQueueTimeout) at the next arrival or
// release, even though it joined with the long QueueTimeout, and a caller
// arriving then waits at most OverloadWait.
func TestOverloadCutsTheWait(t *testing.T) {
	l, clock := newClocked(t, overloadLimits)
	held := mustAcquire(t, l)
	old := queue(t, l, 1)
	clock.Advance(5 * time.Millisecond)
	younger := queue(t, l, 2)
	clock.Advance(1100 * time.Millisecond) // long since old waited 1s, 100ms ago
	late := acquireAsync(l, context.Background())
	for what, ch := range map[string]<-chan result{"the oldest waiter": old, "the younger waiter": younger} {
		if r := <-ch; !errors.Is(r.err, ErrQueueTimeout) {
			t.Fatalf("%s while overloaded: %v, want ErrQueueTimeout", what, r.err)
		}
	}
	// The late caller's own wait is the overload wait (on a real timer).
	refused(t, "a caller arriving during the overload (want ErrQueueTimeout after the overload wait)", late)
	if l.Waiting() != 0 || l.Active() != 1 {
		t.Fatalf("waiting %d active %d, want 0 and 1", l.Waiting(), l.Active())
	}
	held.Release()
	wantAdmittedAtOnce(t, l, "after the overload")
}

// TestOneRoundIsNotOverload: a queue no longer than the slots is one
// round of work: however long it stands (a slow request, a stalled
// machine) it stays first come first served with the long timeout.
func TestOneRoundIsNotOverload(t *testing.T) {
	l, clock := newClocked(t, overloadLimits)
	held := mustAcquire(t, l)
	a := queue(t, l, 1)
	clock.Advance(time.Hour / 2)
	wantOverloaded(t, l, false, "one waiter for one slot counted as overloaded")
	held.Release()
	ta := admitted(t, "the single waiter, after a long wait", a)
	// A second waiter makes the standing queue longer than the slots.
	b := queue(t, l, 1)
	clock.Advance(time.Second)
	c := queue(t, l, 2)
	clock.Advance(100 * time.Millisecond)
	wantOverloaded(t, l, true, "two waiters for one slot, standing: want overloaded")
	// Back to one waiter, it stays overloaded until the queue has stayed
	// short for OverloadAfter.
	ta.Release() // to c, the newest
	tc := admitted(t, "the newest waiter", c)
	refused(t, "the waiter from before the overload (want dropped)", b)
	wantOverloaded(t, l, true, "drained a moment ago: want still overloaded")
	tc.Release()
	clock.Advance(100 * time.Millisecond)
	wantOverloaded(t, l, false, "short for OverloadAfter: want no longer overloaded")
}

// TestManyTurnsAreNotOverload: callers taking turns faster than the
// slots' work lasts OverloadWait are not overload, however many queue at
// once (a closed loop of clients larger than the slots); the same queue
// with slow slots is.
func TestManyTurnsAreNotOverload(t *testing.T) {
	lim := overloadLimits
	lim.MaxConcurrent = 2
	l, clock := newClocked(t, lim)
	// One slot turns over every 100ms, so each is held 200ms: 8 waiters
	// are 800ms of work for the 2 slots, and each waits 800ms.
	var held []*Ticket
	for range 2 {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	var waiting []<-chan result
	for i := range 8 {
		waiting = append(waiting, queue(t, l, i+1))
	}
	for round := 0; round < 40; round++ {
		clock.Advance(100 * time.Millisecond)
		if l.Overloaded() {
			t.Fatalf("round %d: 8 waiters, 800ms of work for 2 slots: want not overloaded", round)
		}
		// One slot turns over: its holder leaves, the oldest waiter takes
		// it, and the holder comes back as the newest waiter.
		held[0].Release()
		r := <-waiting[0]
		if r.err != nil {
			t.Fatalf("round %d: %v", round, r.err)
		}
		held = append(held[1:], r.tk)
		waiting = append(waiting[1:], queue(t, l, 8))
	}
	// The slots slow down to 300ms a turn: 8 waiters are 1.2s of work, more
	// than the slots get through in OverloadWait.
	for round := 0; round < 20; round++ {
		clock.Advance(300 * time.Millisecond)
		if l.Overloaded() {
			break
		}
		held[0].Release()
		r := <-waiting[0]
		if r.err != nil {
			t.Fatalf("slow round %d: %v", round, r.err)
		}
		held = append(held[1:], r.tk)
		waiting = append(waiting[1:], queue(t, l, 8))
	}
	wantOverloaded(t, l, true, "8 waiters, 1.2s of work for 2 slots, for seconds: want overloaded")
	for _, tk := range held {
		tk.Release()
	}
	for i := len(waiting) - 1; i >= 0; i-- { // newest first, as they are served
		if r := <-waiting[i]; r.err == nil {
			r.tk.Release()
		}
	}
}

// TestOverloadOutlastsAMomentaryDrain: a queue that empties for a moment
// under a load that goes on stays overloaded: the next waiters are served
// newest first and wait at most OverloadWait, not QueueTimeout. Only a
// queue that stays short for OverloadAfter ends the overload, counted from
// when it became short, and from the last refusal (the refusals, not the
// load, may be what keeps the queue short).
func TestOverloadOutlastsAMomentaryDrain(t *testing.T) {
	l, clock, held, a, b := overloadedWithTwo(t)
	held.Release()
	tb := admitted(t, "the newest waiter", b)
	refused(t, "the waiter from before the overload (want dropped)", a)
	// Drained for 50ms, then two more callers: newest first, short waits.
	clock.Advance(50 * time.Millisecond)
	c := queue(t, l, 1)
	d := queue(t, l, 2)
	wantOverloaded(t, l, true, "short for 50ms of the 100ms: want still overloaded")
	tb.Release()
	td := admitted(t, "the newest waiter after a momentary drain", d)
	notYet(t, "the older waiter", c)
	// c waits at most OverloadWait (the cut), not QueueTimeout: it is
	// refused on its own real timer.
	refused(t, "a waiter queued during the overload (want ErrQueueTimeout after the overload wait)", c)
	// Short, and nobody refused, since c left and d was admitted.
	clock.Advance(60 * time.Millisecond)
	wantOverloaded(t, l, true, "short for 60ms: want still overloaded")
	clock.Advance(40 * time.Millisecond)
	wantOverloaded(t, l, false, "short for 100ms: want no longer overloaded")
	td.Release()
	wantAdmittedAtOnce(t, l, "after the overload")
}

// overloadedWithTwo returns a limiter of overloadLimits on a fake clock,
// overloaded by the direct reading before any slot was given back: its one
// slot held, waiter a queued 1.1s ago and b 100ms ago.
func overloadedWithTwo(t *testing.T) (l *Limiter, clock *testkit.Clock, held *Ticket, a, b <-chan result) {
	t.Helper()
	l, clock = newClocked(t, overloadLimits)
	held = mustAcquire(t, l)
	a = queue(t, l, 1)
	clock.Advance(time.Second)
	b = queue(t, l, 2)
	clock.Advance(100 * time.Millisecond)
	wantOverloaded(t, l, true, "a waited 1.1s behind one slot, with b behind it for 100ms: want overloaded")
	return l, clock, held, a, b
}

// TestOverloadHoldsBeforeAnySlotIsGivenBack: overloaded before any slot
// was given back (no hold time measured yet, so the work the queue holds
// reads as none), the class stays overloaded however long nothing is
// served; it used to count the queue as short at once and, OverloadAfter
// later, served the next caller first come first served with the full
// QueueTimeout. A caller arriving then waits only the cut, and the waiters
// from before the overload are dropped.
func TestOverloadHoldsBeforeAnySlotIsGivenBack(t *testing.T) {
	l, clock, held, a, b := overloadedWithTwo(t)
	clock.Advance(time.Second)
	wantOverloaded(t, l, true, "a second later, nothing served and nobody gone: want still overloaded")
	c := acquireAsync(l, context.Background())
	refused(t, "the waiter from before the overload (want dropped)", a)
	refused(t, "the other waiter from before the overload (want dropped)", b)
	refused(t, "a caller arriving while overloaded (want refused after the cut, not QueueTimeout)", c)
	held.Release()
}

// TestOverloadCutFollowsTheHoldTime: while overloaded, a waiter passed
// over for four slot turns (the mean hold time over the slots) is refused,
// well before OverloadWait; one younger than that still waits.
func TestOverloadCutFollowsTheHoldTime(t *testing.T) {
	l, clock := newClocked(t, Limits{MaxConcurrent: 1, MaxQueue: 64, QueueTimeout: time.Hour, OverloadAfter: 200 * time.Millisecond, OverloadWait: 250 * time.Millisecond})
	// One turn of 25ms: the mean hold time, so the cut is 100ms.
	tk := mustAcquire(t, l)
	clock.Advance(25 * time.Millisecond)
	tk.Release()
	held := mustAcquire(t, l)
	// 20 waiters, 500ms of work for one slot: long, overloaded 200ms later.
	var early []<-chan result
	for i := range 20 {
		early = append(early, queue(t, l, i+1))
	}
	clock.Advance(250 * time.Millisecond)
	wantOverloaded(t, l, true, "20 waiters, 500ms of work for one slot, for 250ms: want overloaded")
	// Every early waiter has waited 250ms, more than the 100ms cut (and
	// than OverloadWait): the next arrival refuses them all.
	fresh := queue(t, l, 1)
	for i, ch := range early {
		if r := <-ch; !errors.Is(r.err, ErrQueueTimeout) {
			t.Fatalf("early waiter %d: %v, want refused past the cut", i, r.err)
		}
	}
	clock.Advance(60 * time.Millisecond) // fresh has waited 60ms: under the cut
	newer := queue(t, l, 2)
	clock.Advance(50 * time.Millisecond) // fresh 110ms, newer 50ms; a refusal 110ms ago
	held.Release()
	refused(t, "a waiter 110ms old, past the 100ms cut, less than OverloadWait (want refused)", fresh)
	admitted(t, "the newer waiter, 50ms old", newer).Release()
}

// TestFullQueueRefusalKeepsTheOverload: a caller refused because the
// queue is full while overloaded counts as a refusal: the overload lasts
// OverloadAfter past it, though the queue is short all along.
func TestFullQueueRefusalKeepsTheOverload(t *testing.T) {
	lim := overloadLimits
	lim.MaxQueue = 2
	l, clock := newClocked(t, lim)
	// A 10ms turn first, so that after the slow one below the mean hold
	// time is about 146ms and two waiters are a short queue (292ms of
	// work, under OverloadWait).
	warm := mustAcquire(t, l)
	clock.Advance(10 * time.Millisecond)
	warm.Release()
	held := mustAcquire(t, l)
	a := queue(t, l, 1)
	clock.Advance(time.Second)
	b := queue(t, l, 2)
	clock.Advance(100 * time.Millisecond)
	wantOverloaded(t, l, true, "a waited 1.1s, b behind it for 100ms: want overloaded")
	held.Release() // a refused (waited past the cut), b admitted
	tb := admitted(t, "the newest waiter", b)
	if r := <-a; !errors.Is(r.err, ErrQueueTimeout) {
		t.Fatalf("the old waiter: %v", r.err)
	}
	// Short from here on; 90ms later the queue is full for a moment and a
	// caller is refused for it.
	clock.Advance(90 * time.Millisecond)
	c := queue(t, l, 1)
	d := queue(t, l, 2)
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("a third waiter for a queue of 2: %v, want ErrQueueFull", err)
	}
	tb.Release() // to d, the newest
	td := admitted(t, "the newest waiter", d)
	td.Release()
	tc := admitted(t, "the last waiter", c)
	tc.Release()
	// Short since a was refused, 150ms ago by now; the queue-full refusal
	// was 60ms ago: still overloaded, and 40ms later not.
	clock.Advance(60 * time.Millisecond)
	wantOverloaded(t, l, true, "a queue-full refusal 60ms ago: want still overloaded")
	clock.Advance(40 * time.Millisecond)
	wantOverloaded(t, l, false, "short and nobody refused for 100ms: want no longer overloaded")
}

// TestNoOverloadModeWithoutOverloadAfter: with OverloadAfter 0 the queue
// stays first come first served however long it stands.
func TestNoOverloadModeWithoutOverloadAfter(t *testing.T) {
	l, clock := newClocked(t, Limits{MaxConcurrent: 1, MaxQueue: 4, QueueTimeout: time.Hour})
	held := mustAcquire(t, l)
	a := queue(t, l, 1)
	clock.Advance(time.Hour)
	b := queue(t, l, 2)
	wantOverloaded(t, l, false, "overloaded with OverloadAfter 0")
	held.Release()
	ta := admitted(t, "the oldest waiter", a)
	notYet(t, "the newer waiter", b)
	ta.Release()
	admitted(t, "the newer waiter", b).Release()
}

func BenchmarkAcquireRelease(b *testing.B) {
	l, _ := New(Limits{MaxConcurrent: 64, MaxQueue: 64, QueueTimeout: time.Second})
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, err := l.Acquire(ctx)
			if err == nil {
				tk.Release()
			}
		}
	})
}
