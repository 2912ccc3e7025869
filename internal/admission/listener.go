package admission

import (
	"net"
	"sync"
	"sync/atomic"
)

// ConnLimiter is a listener that holds at most a fixed number of accepted
// connections open at once. At the bound, Accept waits until one of them
// is closed, so further connections wait in the kernel's backlog and cost
// the process nothing (no goroutine, no buffers): memory stays bounded
// whatever the number of clients.
//
// OnFull, when set, is called with true when the bound is reached and with
// false when it is left, so that the server can stop keeping connections
// alive while clients wait to connect (otherwise idle keep-alive
// connections would hold every place). It is called from one goroutine of
// the limiter's, in order, with the latest state (a quick full, not full,
// full may be told as one full); it may close connections.
type ConnLimiter struct {
	net.Listener
	max    int
	slots  chan struct{}
	open   atomic.Int64
	onFull func(full bool)
	notify chan struct{} // the open count crossed the bound
	done   chan struct{} // closed by Close
	close  sync.Once
}

// LimitConns returns ln bounded to n open connections (at least 1),
// calling onFull (if not nil) as the bound is reached and left.
func LimitConns(ln net.Listener, n int, onFull func(full bool)) *ConnLimiter {
	n = max(n, 1)
	l := &ConnLimiter{Listener: ln, max: n, slots: make(chan struct{}, n), onFull: onFull,
		notify: make(chan struct{}, 1), done: make(chan struct{})}
	if onFull != nil {
		go l.watch()
	}
	return l
}

// watch tells onFull each change of Full, until Close.
func (l *ConnLimiter) watch() {
	full := false
	for {
		select {
		case <-l.notify:
		case <-l.done:
			return
		}
		if now := l.Full(); now != full {
			full = now
			l.onFull(full)
		}
	}
}

func (l *ConnLimiter) crossed() {
	select {
	case l.notify <- struct{}{}:
	default: // a change is already waiting to be told; watch reads the latest state
	}
}

// Accept waits for a place, then for a connection. Once the listener is
// closed it returns net.ErrClosed without waiting for a place.
func (l *ConnLimiter) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	if int(l.open.Add(1)) == l.max {
		l.crossed()
	}
	return &limitedConn{Conn: c, l: l}, nil
}

// Close closes the listener; a waiting Accept returns.
func (l *ConnLimiter) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is how many accepted connections are open now.
func (l *ConnLimiter) Open() int { return int(l.open.Load()) }

// Max is the bound.
func (l *ConnLimiter) Max() int { return l.max }

// Full tells whether the bound is reached.
func (l *ConnLimiter) Full() bool { return int(l.open.Load()) >= l.max }

func (l *ConnLimiter) closed() {
	if int(l.open.Add(-1)) == l.max-1 {
		l.crossed()
	}
	<-l.slots
}

// limitedConn gives its place back when it is first closed.
type limitedConn struct {
	net.Conn
	l    *ConnLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.closed)
	return err
}
