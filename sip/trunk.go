package sip

import (
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"
)

// trunk is a configured peer, ready to match source addresses.
type trunk struct {
	name  string
	allow []netip.Prefix
	auth  *digestAuth // nil: source address only
	// dialUser and dialPassword answer the trunk's challenges to calls we
	// place through it; empty: none.
	dialUser, dialPassword string
}

// newTrunks builds the trunks of cfg; realm is the default digest realm and
// key signs the nonces of every trunk.
func newTrunks(cfg []TrunkConfig, realm string, key []byte) ([]*trunk, error) {
	out := make([]*trunk, 0, len(cfg))
	for _, tc := range cfg {
		t := &trunk{name: tc.Name}
		for _, a := range tc.Allow {
			p, err := parseAllow(a)
			if err != nil {
				return nil, fmt.Errorf("trunk %q: allow %q: %w", tc.Name, a, err)
			}
			t.allow = append(t.allow, p)
		}
		if tc.Username != "" {
			pw := os.Getenv(tc.PasswordEnv)
			if pw == "" {
				return nil, fmt.Errorf("trunk %q: environment variable %s (password_env) is empty or unset", tc.Name, tc.PasswordEnv)
			}
			r := tc.Realm
			if r == "" {
				r = realm
			}
			t.auth = newDigestAuth(tc.Username, pw, r, key)
		}
		if tc.OutboundUsername != "" {
			t.dialUser, t.dialPassword = tc.OutboundUsername, os.Getenv(tc.OutboundPasswordEnv)
			if t.dialPassword == "" {
				return nil, fmt.Errorf("trunk %q: environment variable %s (outbound_password_env) is empty or unset", tc.Name, tc.OutboundPasswordEnv)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// matchTrunk returns the first trunk allowing addr, or nil.
func matchTrunk(trunks []*trunk, addr netip.Addr) *trunk {
	addr = addr.Unmap().WithZone("")
	for _, t := range trunks {
		for _, p := range t.allow {
			if p.Contains(addr) {
				return t
			}
		}
	}
	return nil
}

// logLimiter lets a log line through at most once per key per interval, so
// a scanner hammering us costs one line a minute, not one per packet.
type logLimiter struct {
	every time.Duration
	max   int // keys remembered before old ones are forgotten

	mu   sync.Mutex
	last map[string]time.Time
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, max: 10000, last: make(map[string]time.Time)}
}

// allow reports whether the line keyed by key may be logged now.
func (l *logLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		return false
	}
	if len(l.last) >= l.max {
		for k, t := range l.last {
			if now.Sub(t) >= l.every {
				delete(l.last, k)
			}
		}
		if len(l.last) >= l.max {
			// Still full of fresh keys: an address sweep. Forget them all
			// rather than grow; at worst some lines repeat within a minute.
			clear(l.last)
		}
	}
	l.last[key] = now
	return true
}
