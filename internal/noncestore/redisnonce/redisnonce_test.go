package redisnonce_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentcert/agentcert/internal/noncestore/redisnonce"
	"github.com/agentcert/agentcert/internal/testsvc"
)

func open(t *testing.T, url, prefix string) *redisnonce.Store {
	t.Helper()
	s, err := redisnonce.New(url, redisnonce.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSpendOnceAcrossReplicas: a nonce spent through one store is refused
// through another on the same Redis and prefix, and kept until it expires.
func TestSpendOnceAcrossReplicas(t *testing.T) {
	url, prefix := testsvc.Redis(t)
	a, b := open(t, url, prefix), open(t, url, prefix)
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	fresh, err := a.Spend(ctx, "n1", exp)
	if err != nil || !fresh {
		t.Fatalf("first spend = %v, %v", fresh, err)
	}
	for name, s := range map[string]*redisnonce.Store{"same replica": a, "other replica": b} {
		if fresh, err := s.Spend(ctx, "n1", exp); err != nil || fresh {
			t.Fatalf("%s: replayed spend = %v, %v", name, fresh, err)
		}
	}
	if fresh, err := b.Spend(ctx, "n2", exp); err != nil || !fresh {
		t.Fatalf("another nonce = %v, %v", fresh, err)
	}
	// Another prefix is another set.
	if fresh, err := open(t, url, prefix+"other:").Spend(ctx, "n1", exp); err != nil || !fresh {
		t.Fatalf("other prefix = %v, %v", fresh, err)
	}

	// The key lives until the nonce expires, not forever.
	o, _ := redis.ParseURL(url)
	c := redis.NewClient(o)
	defer c.Close()
	ttl, err := c.PTTL(ctx, prefix+"n1").Result()
	if err != nil || ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("PTTL of a spent nonce = %v, %v; want about 1m", ttl, err)
	}
	if _, err := a.Spend(ctx, "past", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := c.PTTL(ctx, prefix+"past").Result(); ttl <= 0 || ttl > redisnonce.MinTTL {
		t.Fatalf("PTTL of an expired nonce = %v, want at most %v", ttl, redisnonce.MinTTL)
	}
}

// TestSpendRace: of many replicas spending one nonce at once, exactly one
// gets fresh.
func TestSpendRace(t *testing.T) {
	url, prefix := testsvc.Redis(t)
	stores := []*redisnonce.Store{open(t, url, prefix), open(t, url, prefix), open(t, url, prefix)}
	for n := range 20 {
		id := fmt.Sprintf("race-%d", n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := stores[i%3].Spend(context.Background(), id, time.Now().Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if fresh != 1 {
			t.Fatalf("nonce %s spent fresh %d times", id, fresh)
		}
	}
}

// TestUnreachableFailsClosed: with nothing listening, Spend returns an error
// (never fresh) within the timeout.
func TestUnreachableFailsClosed(t *testing.T) {
	s, err := redisnonce.New("redis://:hunter2@127.0.0.1:1/0", redisnonce.WithTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fresh, err := s.Spend(t.Context(), "n", time.Now().Add(time.Minute))
	if err == nil || fresh {
		t.Fatalf("Spend without Redis = %v, %v; want an error and not fresh", fresh, err)
	}
	if s.Ping(t.Context()) == nil {
		t.Fatal("Ping without Redis succeeded")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, u := range []string{"", "memory", "http://127.0.0.1:6379", "redis://:pw@[::1"} {
		_, err := redisnonce.New(u)
		if err == nil {
			t.Errorf("New(%q) accepted", u)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%q): the password leaked into %v", u, err)
		}
	}
	s, _ := redisnonce.New("redis://127.0.0.1:6379/0")
	defer s.Close()
	for _, id := range []string{"", strings.Repeat("x", redisnonce.MaxIDBytes+1)} {
		if _, err := s.Spend(t.Context(), id, time.Now().Add(time.Minute)); err == nil {
			t.Errorf("Spend of a %d-byte id accepted", len(id))
		}
	}
}
