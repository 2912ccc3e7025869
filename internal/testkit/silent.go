package testkit

import (
	"net"
	"sync"
	"testing"
)

// Silent is a dependency that hangs: a listener on 127.0.0.1 that accepts
// every connection and never reads from it or answers.
type Silent struct {
	// Addr is its host:port.
	Addr string

	ln    net.Listener
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	conns []net.Conn
}

// SilentListener starts a Silent on a free port; Stop (also run at the
// end of the test) closes it.
func SilentListener(t testing.TB) *Silent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &Silent{Addr: ln.Addr().String(), ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// Accepted is the number of connections accepted so far.
func (s *Silent) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Stop closes the listener and every connection it accepted, and waits for
// its goroutine to end.
func (s *Silent) Stop() {
	s.once.Do(func() {
		_ = s.ln.Close()
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			_ = c.Close()
		}
	})
}
