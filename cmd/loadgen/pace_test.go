package main

import (
	"context"
	"testing"
	"time"
)

// TestPacerSleepsUntilDue: sleepUntil never returns before the moment it
// was given, returns at once for a moment already past, and gives up when
// the run ends, even in the middle of a long wait.
func TestPacerSleepsUntilDue(t *testing.T) {
	p := newPacer()
	defer p.release()
	ctx := context.Background()
	for _, d := range []time.Duration{-time.Second, 0, 300 * time.Microsecond, 3 * time.Millisecond, maxNap + 5*time.Millisecond} {
		at := time.Now().Add(d)
		if !p.sleepUntil(ctx, at) {
			t.Fatalf("sleepUntil(+%s) gave up", d)
		}
		if now := time.Now(); now.Before(at) {
			t.Fatalf("sleepUntil(+%s) returned %s early", d, at.Sub(now))
		}
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	if p.sleepUntil(done, time.Now().Add(time.Hour)) {
		t.Fatal("sleepUntil with a done context reported the moment as come")
	}

	ending, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	returned := make(chan bool, 1)
	go func() {
		q := newPacer()
		defer q.release()
		returned <- q.sleepUntil(ending, time.Now().Add(time.Hour))
	}()
	select {
	case ok := <-returned:
		if ok {
			t.Fatal("sleepUntil reported an hour away as come")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleepUntil did not notice the end of the run")
	}
}
