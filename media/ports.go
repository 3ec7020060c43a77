package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// PortRange hands out RTP/RTCP port pairs (even RTP port, RTCP on the next
// one, as RFC 3550 recommends) from a configured range. The ports are not
// reserved anywhere but in the kernel: a pair in use by another process is
// skipped, and a closed call's pair is free again at once.
type PortRange struct {
	ip       netip.Addr
	min, max int // even min, max inclusive

	mu   sync.Mutex
	next int // where the next search starts, so pairs are reused last
}

// ErrNoPorts is returned when every pair in the range is in use.
var ErrNoPorts = errors.New("media: no free RTP port pair")

// NewPortRange returns the pairs between min and max on ip.
func NewPortRange(ip netip.Addr, min, max int) (*PortRange, error) {
	if !ip.IsValid() {
		return nil, errors.New("media: RTP bind address is not set")
	}
	if min%2 == 1 {
		min++
	}
	if min < 1024 || max > 65535 || max < min+1 {
		return nil, fmt.Errorf("media: RTP port range %d-%d holds no pair above 1023", min, max)
	}
	return &PortRange{ip: ip, min: min, max: max, next: min}, nil
}

// Pairs is how many pairs the range holds.
func (r *PortRange) Pairs() int { return (r.max - r.min + 1) / 2 }

// Listen binds the next free pair.
func (r *PortRange) Listen() (rtp, rtcp *net.UDPConn, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.Pairs()
	for range n {
		port := r.next
		r.next += 2
		if r.next+1 > r.max {
			r.next = r.min
		}
		rtp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.ip, uint16(port))))
		if err != nil {
			continue
		}
		rtcp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.ip, uint16(port+1))))
		if err != nil {
			_ = rtp.Close()
			continue
		}
		return rtp, rtcp, nil
	}
	return nil, nil, fmt.Errorf("%w in %d-%d on %s", ErrNoPorts, r.min, r.max, r.ip)
}
