package admission

import (
	"testing"
	"time"
)

func TestTokenRate(t *testing.T) {
	for _, bad := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := NewTokenRate(bad.rate, bad.burst, 0); err == nil {
			t.Errorf("NewTokenRate(%v, %d) accepted", bad.rate, bad.burst)
		}
	}
	tr, err := NewTokenRate(2, 3, 0) // 2/s, bursts of 3
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 3; i++ {
		if ok, _ := tr.Allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := tr.Allow("a", now)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("past the burst: ok %v wait %s, want refused with a wait of at most 1/rate", ok, wait)
	}
	// A refusal costs no token: after the wait exactly one more is allowed.
	ok, wait2 := tr.Allow("a", now)
	if ok || wait2 != wait {
		t.Fatalf("a second refusal changed the wait: %s then %s", wait, wait2)
	}
	if ok, _ := tr.Allow("b", now); !ok {
		t.Fatal("another key shares a's bucket")
	}
	later := now.Add(wait)
	if ok, _ := tr.Allow("a", later); !ok {
		t.Fatal("refused after the wait it named")
	}
	if ok, _ := tr.Allow("a", later); ok {
		t.Fatal("two tokens after one refill")
	}
}

// TestTokenRateBoundedKeys: the set never holds more than its bound; when
// full, buckets that have refilled are forgotten, and a new key that finds
// no room fails closed.
func TestTokenRateBoundedKeys(t *testing.T) {
	tr, err := NewTokenRate(1, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	tr.Allow("a", now)
	tr.Allow("b", now)
	if ok, _ := tr.Allow("c", now); ok {
		t.Fatal("a third key was let in while both buckets were empty")
	}
	if tr.Keys() != 2 {
		t.Fatalf("holds %d buckets, want 2", tr.Keys())
	}
	later := now.Add(2 * time.Second) // a and b have refilled
	if ok, _ := tr.Allow("c", later); !ok {
		t.Fatal("refilled buckets were not forgotten to make room")
	}
	if tr.Keys() > 2 {
		t.Fatalf("holds %d buckets, bound 2", tr.Keys())
	}
}
