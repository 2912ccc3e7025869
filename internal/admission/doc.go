// Package admission decides whether the server takes on a request now, makes
// it wait, or sheds it, so that overload is answered quickly instead of
// piling up.
//
// A Limiter admits at most a fixed number of callers at once and lets a
// bounded number more wait, each for at most a fixed time, in arrival
// order. A caller past the queue bound is refused at once (ErrQueueFull);
// one that waited too long is refused (ErrQueueTimeout); one whose context
// ends while it waits (its client went away) leaves the queue and gets the
// context's error. Nobody waits without a bound, so a burst cannot build a
// backlog of requests that time out one after the other.
//
// A queue absorbs bursts; a queue that never drains absorbs nothing and
// only adds its length to the wait of every admitted caller. So once the
// queue has stayed non-empty for a while (Limits.OverloadAfter) the
// limiter counts as overloaded: it admits the newest waiter first and cuts
// every wait to Limits.OverloadWait, so the callers it admits are the
// fresh ones and the others are refused quickly, until the queue drains.
// (The idea is that of CoDel's standing-queue detection and of adaptive
// LIFO queueing in request servers.)
//
// TokenRate is a token bucket per key (a bearer token's id): a key over its
// rate is refused with the wait before its next request would be allowed.
//
// Neither type knows about HTTP; server maps their outcomes to 503 and 429.
package admission
