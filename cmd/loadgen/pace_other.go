//go:build !linux

package main

import (
	"context"
	"time"
)

func newPacer() *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{timer: t, release: func() { t.Stop() }}
}

// nap waits d on the runtime's timer, or until ctx is done.
func (p *pacer) nap(ctx context.Context, d time.Duration) {
	p.timer.Reset(d)
	select {
	case <-ctx.Done():
		p.timer.Stop()
	case <-p.timer.C:
	}
}
