package main

import (
	"context"
	"time"
)

// maxNap bounds one sleep of the pacer, so that a run that ends (its
// context is done) is noticed within this long.
const maxNap = 20 * time.Millisecond

// pacer sleeps the open loop's sending goroutine until each request falls
// due. The Go runtime's timers wait in the network poller, whose timeout has
// millisecond resolution: a request due in 300 µs leaves up to a millisecond
// late, and that lateness is counted in its latency. On Linux the pacer
// instead holds its own OS thread and sleeps there with nanosleep(2), which
// wakes within tens of microseconds (pace_linux.go); elsewhere it uses a
// timer (pace_other.go).
type pacer struct {
	timer *time.Timer
	// release undoes what newPacer did to the calling goroutine.
	release func()
}

// sleepUntil returns when at has come (true) or ctx is done (false).
func (p *pacer) sleepUntil(ctx context.Context, at time.Time) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		d := time.Until(at)
		if d <= 0 {
			return true
		}
		p.nap(ctx, min(d, maxNap))
	}
}
