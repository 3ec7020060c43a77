package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func TestByAddr(t *testing.T) {
	l := New(1, 2) // a token a second, two at most
	now := time.Now()
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2") // the same /64
	c := netip.MustParseAddr("192.0.2.1")
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.Allow([]netip.Addr{a, b, a}[i], now); ok != want {
			t.Errorf("attempt %d: %v, want %v", i, ok, want)
		}
	}
	if ok, wait := l.Allow(a, now); ok || wait != time.Second {
		t.Errorf("empty bucket: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow(c, now); !ok {
		t.Error("another address was limited")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("::ffff:192.0.2.1"), now); !ok {
		t.Error("the IPv4-mapped form of an address has the bucket of the plain one: it should have one token left")
	}
	l.Refund(a)
	if ok, _ := l.Allow(a, now); !ok {
		t.Error("a refunded token was not given back")
	}
	if ok, _ := l.Allow(a, now.Add(time.Second)); !ok {
		t.Error("the bucket did not refill")
	}
	l.Sweep(now.Add(time.Hour))
	if n := l.Len(); n != 0 {
		t.Errorf("%d buckets after a sweep, want 0", n)
	}
}
