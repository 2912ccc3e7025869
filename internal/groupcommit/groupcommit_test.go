package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// log is the "transaction" of these tests: the values committed, in order.
type log struct {
	mu        sync.Mutex
	committed []int
	batches   []int // size of each batch handed to Commit
}

func (l *log) commit(fail error) CommitFunc[*[]int] {
	return func(writes []func(*[]int) error, errs []error) error {
		var tx []int
		for i, w := range writes {
			before := len(tx)
			if err := w(&tx); err != nil {
				errs[i] = err
				tx = tx[:before] // the write's own changes roll back alone
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.batches = append(l.batches, len(writes))
		if fail != nil {
			return fail
		}
		l.committed = append(l.committed, tx...)
		return nil
	}
}

func add(v int) func(*[]int) error {
	return func(tx *[]int) error { *tx = append(*tx, v); return nil }
}

func TestSubmitCommitsAndCounts(t *testing.T) {
	var l log
	q := New(Config[*[]int]{MaxBatch: 4, Queue: 16, Commit: l.commit(nil)})
	defer q.Close()
	for i := range 3 {
		if err := q.Submit(t.Context(), add(i)); err != nil {
			t.Fatal(err)
		}
	}
	if c, w := q.Stats(); c != 3 || w != 3 {
		t.Fatalf("Stats = %d commits %d writes, want 3 3", c, w)
	}
	if len(l.committed) != 3 {
		t.Fatalf("committed %v", l.committed)
	}
}

// TestOneFailingWriteAlone: a write that fails gets its own error, the
// others of its batch are committed.
func TestOneFailingWriteAlone(t *testing.T) {
	var l log
	release := make(chan struct{})
	boom := errors.New("boom")
	q := New(Config[*[]int]{MaxBatch: 8, Queue: 16, Commit: l.commit(nil)})
	defer q.Close()
	// Hold the writer so that the next writes queue up into one batch.
	hold(q, release)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, fn := range []func(*[]int) error{add(1), func(tx *[]int) error { *tx = append(*tx, 99); return boom }, add(3)} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = q.Submit(context.Background(), fn) }()
	}
	waitQueued(t, q, 3)
	close(release)
	wg.Wait()
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Fatalf("errors %v", errs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.committed {
		if v == 99 {
			t.Fatalf("the failed write's change was committed: %v", l.committed)
		}
	}
	if len(l.committed) != 2 {
		t.Fatalf("committed %v, want the two good writes", l.committed)
	}
}

// TestBatchFailureFailsEveryWrite: when the batch is not committed, every
// write in it gets the batch's error, and nothing is counted.
func TestBatchFailureFailsEveryWrite(t *testing.T) {
	var l log
	lost := errors.New("disk gone")
	q := New(Config[*[]int]{Commit: l.commit(lost)})
	defer q.Close()
	if err := q.Submit(t.Context(), add(1)); !errors.Is(err, lost) {
		t.Fatalf("Submit = %v, want %v", err, lost)
	}
	if c, w := q.Stats(); c != 0 || w != 0 {
		t.Fatalf("Stats = %d %d after a lost batch", c, w)
	}
}

// TestAbandonedWhileQueuedIsNotRun: a caller that gives up while its write
// is still queued gets ctx.Err(), and the write never runs.
func TestAbandonedWhileQueuedIsNotRun(t *testing.T) {
	var l log
	release := make(chan struct{})
	q := New(Config[*[]int]{MaxBatch: 8, Queue: 16, Commit: l.commit(nil)})
	defer q.Close()
	hold(q, release)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ran := make(chan struct{}, 1)
	go func() {
		done <- q.Submit(ctx, func(*[]int) error { ran <- struct{}{}; return nil })
	}()
	waitQueued(t, q, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit = %v, want context.Canceled", err)
	}
	close(release)
	if err := q.Submit(t.Context(), add(2)); err != nil { // the writer went past it
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("an abandoned write ran")
	default:
	}
}

// TestCloseDrainsThenRefuses: Close answers every write already queued,
// waits for reads in flight, then Submit and Acquire fail with Closed.
func TestCloseDrainsThenRefuses(t *testing.T) {
	var l log
	closed := errors.New("store closed")
	q := New(Config[*[]int]{MaxBatch: 2, Queue: 64, Commit: l.commit(nil), Closed: closed})
	var wg sync.WaitGroup
	var failed sync.Map
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Submit(context.Background(), add(i)); err != nil {
				failed.Store(i, err)
			}
		}()
	}
	release, err := q.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	closedAt := make(chan struct{})
	go func() { q.Close(); close(closedAt) }()
	select {
	case <-closedAt:
		t.Fatal("Close returned with a read in flight")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	<-closedAt
	wg.Wait()
	n := 0
	failed.Range(func(k, v any) bool {
		if !errors.Is(v.(error), closed) {
			t.Errorf("write %v: %v", k, v)
		}
		n++
		return true
	})
	l.mu.Lock()
	if len(l.committed)+n != 20 {
		t.Errorf("%d committed + %d refused, want 20", len(l.committed), n)
	}
	for _, b := range l.batches {
		if b > 2 {
			t.Errorf("a batch of %d, more than MaxBatch", b)
		}
	}
	l.mu.Unlock()
	if q.Close() {
		t.Error("a second Close reported closing")
	}
	if err := q.Submit(t.Context(), add(1)); !errors.Is(err, closed) {
		t.Errorf("Submit after Close = %v", err)
	}
	if _, err := q.Acquire(); !errors.Is(err, closed) {
		t.Errorf("Acquire after Close = %v", err)
	}
}

func TestAfterBatchRunsOnTheWriter(t *testing.T) {
	var l log
	var mu sync.Mutex
	n := 0
	q := New(Config[*[]int]{Commit: l.commit(nil), AfterBatch: func() { mu.Lock(); n++; mu.Unlock() }})
	for i := range 3 {
		if err := q.Submit(t.Context(), add(i)); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if n != 3 {
		t.Fatalf("AfterBatch ran %d times, want 3", n)
	}
}

// hold submits a write that keeps the writer busy until release is closed,
// and returns once the writer runs it.
func hold(q *Queue[*[]int], release chan struct{}) {
	held := make(chan struct{})
	go q.Submit(context.Background(), func(*[]int) error { close(held); <-release; return nil })
	<-held
}

// waitQueued waits until n writes wait in the queue behind the one the
// writer holds.
func waitQueued[W any](t *testing.T, q *Queue[W], n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(q.ops) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(q.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestYieldGathersRunnableWriters: on one processor, a write whose
// submitter is already runnable when the writer takes a batch joins that
// batch, because the writer yields once before committing a batch that is
// not full.
func TestYieldGathersRunnableWriters(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var l log
	q := New(Config[*[]int]{MaxBatch: 8, Queue: 16, Commit: l.commit(nil)})
	defer q.Close()
	const rounds = 20
	for range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := q.Submit(context.Background(), add(i)); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.committed) != 2*rounds {
		t.Fatalf("committed %d writes, want %d", len(l.committed), 2*rounds)
	}
	// The rare round the scheduler orders otherwise may still commit apart;
	// without the yield every round does.
	if len(l.batches) > rounds+rounds/4 {
		t.Fatalf("%d commits for %d rounds of two runnable writers: batches %v", len(l.batches), rounds, l.batches)
	}
}
