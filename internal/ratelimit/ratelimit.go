// Package ratelimit limits what one remote address may do: a token bucket
// per address, for the anonymous caller page's new calls and for agents'
// sign-in attempts.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// maxBuckets bounds a limiter's memory when many addresses come at once;
// past it, unknown addresses are refused until buckets refill and go.
const maxBuckets = 100_000

// ByAddr keeps a token bucket per remote address: Rate tokens a second up
// to Burst. IPv6 addresses are grouped by /64, the block one subscriber
// gets, so nobody dodges the limit by walking through their own addresses.
// It is safe for concurrent use.
type ByAddr struct {
	rate, burst float64

	mu        sync.Mutex
	buckets   map[netip.Addr]*Bucket
	lastSweep time.Time
}

// Bucket is one token bucket, for a single owner (one socket's messages):
// it is not safe for concurrent use. The zero Bucket is full.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Take spends a token of a bucket of rate tokens a second up to burst;
// when it is empty it returns how long until the next token.
func (b *Bucket) Take(now time.Time, rate, burst float64) (bool, time.Duration) {
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

// New returns a limiter of rate tokens a second, up to burst.
func New(rate float64, burst int) *ByAddr {
	return &ByAddr{rate: rate, burst: float64(burst), buckets: make(map[netip.Addr]*Bucket)}
}

func key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

// Allow spends a token of a's bucket; when it is empty it returns how long
// until the next token.
func (l *ByAddr) Allow(a netip.Addr, now time.Time) (bool, time.Duration) {
	k := key(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= maxBuckets || now.Sub(l.lastSweep) > time.Minute {
			l.sweep(now)
		}
		if len(l.buckets) >= maxBuckets {
			return false, time.Second
		}
		b = &Bucket{}
		l.buckets[k] = b
	}
	return b.Take(now, l.rate, l.burst)
}

// Refund gives back the token Allow took: a sign-in that succeeded costs
// nothing.
func (l *ByAddr) Refund(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key(a)]; b != nil {
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// Sweep forgets buckets that have filled up again: they are the same as
// new ones.
func (l *ByAddr) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
}

func (l *ByAddr) sweep(now time.Time) {
	l.lastSweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for a, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, a)
		}
	}
}

// Len is how many addresses have a bucket.
func (l *ByAddr) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
