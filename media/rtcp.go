package media

import (
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// receiveStats tracks the far end's sequence numbers for reception reports
// (RFC 3550 A.1 and A.3, without probation: a call has one sender).
type receiveStats struct {
	ssrc           uint32
	started        bool
	base, maxSeq   uint16
	cycles         uint32
	received       uint32
	expectedPrior  uint32
	receivedPrior  uint32
	reportedBefore bool
}

func (r *receiveStats) update(seq uint16, ssrc uint32) {
	if !r.started || ssrc != r.ssrc {
		*r = receiveStats{ssrc: ssrc, started: true, base: seq, maxSeq: seq}
		r.received = 1
		return
	}
	delta := seq - r.maxSeq
	if delta == 0 {
		// A repeat of the newest packet: RFC 4733 end-of-event retransmits
		// often reuse the sequence number, and counting them would report
		// negative loss.
		return
	}
	r.received++
	if delta < 0x8000 {
		if seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = seq
	}
}

func (r *receiveStats) extendedMax() uint32 { return r.cycles + uint32(r.maxSeq) }

func (r *receiveStats) expected() uint32 { return r.extendedMax() - uint32(r.base) + 1 }

// lost is cumulative loss; older duplicates can still make it negative, as
// RFC 3550 allows.
func (r *receiveStats) lost() int64 {
	if !r.started {
		return 0
	}
	return int64(r.expected()) - int64(r.received)
}

// interval returns the fraction lost (8-bit fixed point) since the last call.
func (r *receiveStats) interval() uint8 {
	exp, rec := r.expected(), r.received
	expInt, recInt := exp-r.expectedPrior, rec-r.receivedPrior
	r.expectedPrior, r.receivedPrior = exp, rec
	if expInt == 0 || recInt >= expInt {
		return 0
	}
	return uint8((expInt - recInt) << 8 / expInt)
}

// lastSenderReport is the far end's latest SR, echoed in our reports so it
// can measure the round trip.
type lastSenderReport struct {
	ntpMiddle uint32
	at        time.Time
}

// ntpTime is t as a 64-bit NTP timestamp.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// handleRTCP takes one datagram from the RTCP port.
func (s *RTPSession) handleRTCP(b []byte, from netip.AddrPort, now time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		s.counters.malformed.Add(1)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var sdp netip.AddrPort
	if r := s.cfg.Remote; r.IsValid() {
		sdp = netip.AddrPortFrom(r.Addr(), r.Port()+1)
	}
	if !s.latch(from, sdp, &s.rtcpRemote, &s.rtcpLatch) {
		s.counters.ignored.Add(1)
		return
	}
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.lastSR = lastSenderReport{ntpMiddle: uint32(p.NTPTime >> 16), at: now}
			reports = p.Reports
		case *rtcp.ReceiverReport:
			reports = p.Reports
		}
		for _, rr := range reports {
			if rr.SSRC == s.ssrc {
				s.far = s.remoteReport(rr, now)
			}
		}
	}
}

// remoteReport reads a reception report about our stream; s.mu is held.
func (s *RTPSession) remoteReport(rr rtcp.ReceptionReport, now time.Time) RemoteReport {
	rate := time.Duration(s.cfg.Codec.ClockRate())
	rep := RemoteReport{
		FractionLost: float64(rr.FractionLost) / 256,
		Lost:         int32(rr.TotalLost<<8) >> 8, // 24-bit signed
		Jitter:       time.Duration(rr.Jitter) * time.Second / rate,
	}
	if rr.LastSenderReport != 0 {
		// RFC 3550 6.4.1: RTT = now - LSR - DLSR, in 1/65536 s.
		rtt := uint32(ntpTime(now)>>16) - rr.LastSenderReport - rr.Delay
		if rtt < 1<<20 { // under 16 s: anything bigger is a stale or bogus echo
			rep.RTT = time.Duration(rtt) * time.Second / 65536
		}
	}
	return rep
}

// sendReport sends a compound SR (or RR before we have sent audio) with
// SDES CNAME, as RFC 3550 requires.
func (s *RTPSession) sendReport() {
	now := time.Now()
	s.mu.Lock()
	dst := s.rtcpRemote
	var blocks []rtcp.ReceptionReport
	if s.recv.started {
		rr := rtcp.ReceptionReport{
			SSRC:               s.recv.ssrc,
			FractionLost:       s.recv.interval(),
			TotalLost:          uint32(max(min(s.recv.lost(), 0x7FFFFF), -0x800000)) & 0xFFFFFF,
			LastSequenceNumber: s.recv.extendedMax(),
			Jitter:             s.jb.Jitter(),
		}
		if !s.lastSR.at.IsZero() {
			rr.LastSenderReport = s.lastSR.ntpMiddle
			rr.Delay = uint32(now.Sub(s.lastSR.at) * 65536 / time.Second)
		}
		blocks = append(blocks, rr)
	}
	rate := s.cfg.Codec.ClockRate()
	s.mu.Unlock()
	if !dst.IsValid() {
		return
	}
	var first rtcp.Packet = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: blocks}
	if pkts := s.sentPkts.Load(); pkts > 0 {
		at, ts := s.sentClock.Load(), s.sentTS.Load()
		first = &rtcp.SenderReport{
			SSRC:        s.ssrc,
			NTPTime:     ntpTime(now),
			RTPTime:     ts + uint32(now.Sub(time.Unix(0, at))*time.Duration(rate)/time.Second),
			PacketCount: pkts,
			OctetCount:  s.sentBytes.Load(),
			Reports:     blocks,
		}
	}
	s.writeRTCP(dst, first, s.sdes())
}

func (s *RTPSession) sdes() *rtcp.SourceDescription {
	return &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.ssrc,
		Items:  []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "hotline@" + s.local.Addr().String()}},
	}}}
}

// sendBye tells the far end our stream has ended.
func (s *RTPSession) sendBye() {
	s.mu.Lock()
	dst := s.rtcpRemote
	s.mu.Unlock()
	if dst.IsValid() {
		s.writeRTCP(dst, &rtcp.ReceiverReport{SSRC: s.ssrc}, s.sdes(), &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
}

func (s *RTPSession) writeRTCP(dst netip.AddrPort, pkts ...rtcp.Packet) {
	b, err := rtcp.Marshal(pkts)
	if err == nil {
		_, err = s.rtcp.WriteToUDPAddrPort(b, dst)
	}
	if err != nil {
		s.log.Debug("rtcp not sent", "to", dst, "err", err)
	}
}
