// Package pcapfile reads and writes classic libpcap files of IPv4/UDP
// packets over Ethernet, the form tcpdump captures on Linux loopback and
// SIPp's play_pcap_audio replays. Tests use it to make caller audio and to
// inspect what Hotline sent.
package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Packet is one UDP datagram with its capture time.
type Packet struct {
	Time    time.Time
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Payload []byte
}

const (
	magicMicros   = 0xa1b2c3d4
	magicNanos    = 0xa1b23c4d
	linkEthernet  = 1
	linkLinuxSLL  = 113
	ethHeaderLen  = 14
	sllHeaderLen  = 16
	ipv4HeaderLen = 20
	udpHeaderLen  = 8
)

// Write writes pkts as an Ethernet pcap file with microsecond timestamps.
func Write(w io.Writer, pkts []Packet) error {
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], magicMicros)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], linkEthernet)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, p := range pkts {
		if !p.Src.Addr().Is4() || !p.Dst.Addr().Is4() {
			return errors.New("pcapfile: only IPv4 is written")
		}
		frame := make([]byte, ethHeaderLen+ipv4HeaderLen+udpHeaderLen+len(p.Payload))
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[ethHeaderLen:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(ipv4HeaderLen+udpHeaderLen+len(p.Payload)))
		ip[8], ip[9] = 64, 17
		src, dst := p.Src.Addr().As4(), p.Dst.Addr().As4()
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:ipv4HeaderLen]))
		udp := ip[ipv4HeaderLen:]
		binary.BigEndian.PutUint16(udp[0:], p.Src.Port())
		binary.BigEndian.PutUint16(udp[2:], p.Dst.Port())
		binary.BigEndian.PutUint16(udp[4:], uint16(udpHeaderLen+len(p.Payload)))
		copy(udp[udpHeaderLen:], p.Payload)

		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(p.Time.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(p.Time.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		if _, err := w.Write(rec); err != nil {
			return err
		}
		if _, err := w.Write(frame); err != nil {
			return err
		}
	}
	return nil
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Read returns the IPv4 UDP packets of a pcap file (Ethernet or Linux
// cooked capture); other packets are skipped.
func Read(r io.Reader) ([]Packet, error) {
	hdr := make([]byte, 24)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("pcapfile: header: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	magic := order.Uint32(hdr)
	if magic != magicMicros && magic != magicNanos {
		order = binary.BigEndian
		magic = order.Uint32(hdr)
	}
	if magic != magicMicros && magic != magicNanos {
		return nil, errors.New("pcapfile: not a pcap file")
	}
	link := order.Uint32(hdr[20:])
	var linkLen int
	switch link {
	case linkEthernet:
		linkLen = ethHeaderLen
	case linkLinuxSLL:
		linkLen = sllHeaderLen
	default:
		return nil, fmt.Errorf("pcapfile: link type %d not supported", link)
	}
	var out []Packet
	rec := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, rec); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("pcapfile: record: %w", err)
		}
		n := order.Uint32(rec[8:])
		if n > 1<<18 {
			return out, errors.New("pcapfile: record too large")
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return out, fmt.Errorf("pcapfile: record body: %w", err)
		}
		sub := int64(order.Uint32(rec[4:])) * 1000
		if magic == magicNanos {
			sub /= 1000
		}
		ts := time.Unix(int64(order.Uint32(rec[0:])), sub)
		if p, ok := parseUDP(data, linkLen); ok {
			p.Time = ts
			out = append(out, p)
		}
	}
}

func parseUDP(data []byte, linkLen int) (Packet, bool) {
	if len(data) < linkLen+ipv4HeaderLen+udpHeaderLen {
		return Packet{}, false
	}
	if binary.BigEndian.Uint16(data[linkLen-2:]) != 0x0800 {
		return Packet{}, false
	}
	ip := data[linkLen:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ip[9] != 17 || ihl < ipv4HeaderLen || len(ip) < ihl+udpHeaderLen {
		return Packet{}, false
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	udp := ip[ihl:]
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return Packet{}, false
	}
	return Packet{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:])),
		Payload: append([]byte(nil), udp[udpHeaderLen:ulen]...),
	}, true
}
