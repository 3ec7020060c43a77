package webrtc

import (
	"net/netip"
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens a second up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one token if there is one; otherwise it says how long until
// there will be.
func (b *bucket) take(now time.Time, rate, burst float64) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// maxBuckets bounds the limiter's memory when many addresses call at once;
// past it, unknown addresses are refused until buckets refill and go.
const maxBuckets = 100_000

// addrLimiter keeps a token bucket per remote address. IPv6 addresses are
// grouped by /64, the block one subscriber gets, so a caller cannot dodge
// the limit by walking through their own addresses.
type addrLimiter struct {
	rate, burst float64

	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
}

func newAddrLimiter(rate float64, burst int) *addrLimiter {
	return &addrLimiter{rate: rate, burst: float64(burst), buckets: make(map[netip.Addr]*bucket)}
}

// allow spends a token of a's bucket; when it is empty it returns how long
// until the next token.
func (l *addrLimiter) allow(a netip.Addr, now time.Time) (bool, time.Duration) {
	key := a.Unmap()
	if key.Is6() {
		key = netip.PrefixFrom(key, 64).Masked().Addr()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets || now.Sub(l.lastSweep) > time.Minute {
			l.sweep(now)
		}
		if len(l.buckets) >= maxBuckets {
			return false, time.Second
		}
		b = &bucket{}
		l.buckets[key] = b
	}
	return b.take(now, l.rate, l.burst)
}

// sweep forgets buckets that have filled up again: they are the same as
// new ones. l.mu is held.
func (l *addrLimiter) sweep(now time.Time) {
	l.lastSweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for a, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, a)
		}
	}
}
