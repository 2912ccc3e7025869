package admission

import (
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/agentcert/agentcert/internal/testkit"
)

type fullLog struct {
	mu     sync.Mutex
	events []bool
}

func (f *fullLog) note(full bool) {
	f.mu.Lock()
	f.events = append(f.events, full)
	f.mu.Unlock()
}

func (f *fullLog) get() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type accepted struct {
	c   net.Conn
	err error
}

func acceptAsync(l *ConnLimiter) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err}
	}()
	return ch
}

// TestConnLimiterBound: at most max connections are accepted at once; the
// next waits (its client stays in the backlog) until one is closed; the
// bound being reached and left is reported once each way; a second Close
// gives nothing back.
func TestConnLimiterBound(t *testing.T) {
	var log fullLog
	l := LimitConns(listen(t), 2, log.note)
	defer l.Close()
	for range 3 {
		dial(t, l)
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if l.Full() || l.Open() != 1 {
		t.Fatalf("one of two open: full %v, open %d", l.Full(), l.Open())
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if !l.Full() || l.Open() != 2 {
		t.Fatalf("two of two open: full %v open %d", l.Full(), l.Open())
	}
	testkit.Eventually(t, "full is told", func() bool { return slices.Equal(log.get(), []bool{true}) })
	third := acceptAsync(l)
	select {
	case r := <-third:
		t.Fatalf("a third connection was accepted past the bound (%v)", r.err)
	default:
	}
	a.Close()
	a.Close() // a second close gives no second place back
	r := <-third
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if l.Open() != 2 {
		t.Fatalf("open %d, want 2", l.Open())
	}
	b.Close()
	if l.Open() != 1 || l.Full() {
		t.Fatalf("after closing one: open %d full %v", l.Open(), l.Full())
	}
	testkit.Eventually(t, "not full is told last", func() bool {
		ev := log.get()
		return len(ev) >= 2 && !ev[len(ev)-1]
	})
	// Told in order: full and not full alternate, starting with full.
	for i, full := range log.get() {
		if full != (i%2 == 0) {
			t.Fatalf("events %v: not alternating from full", log.get())
		}
	}
	// A fourth connection takes the place b left; a's double close did
	// not leave an extra one.
	dial(t, l)
	dial(t, l)
	c4, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	fifth := acceptAsync(l)
	select {
	case r := <-fifth:
		t.Fatalf("a connection past the bound after a double close (%v)", r.err)
	default:
	}
	l.Close()
	if r := <-fifth; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("Accept waiting for a place when the listener closed: %v, want net.ErrClosed", r.err)
	}
}

// TestConnLimiterClosedWhileWaiting: closing the listener ends an Accept
// that waits for a place.
func TestConnLimiterClosedWhileWaiting(t *testing.T) {
	l := LimitConns(listen(t), 1, nil)
	dial(t, l)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waiting := acceptAsync(l)
	testkit.Eventually(t, "the listener is full", l.Full)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-waiting; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", r.err)
	}
}
