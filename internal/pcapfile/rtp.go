package pcapfile

import (
	"io"
	"net/netip"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/media"
)

// CallerSSRC is the SSRC of the caller audio WriteRTP makes.
const CallerSSRC = 0x484f544c

// WriteRTP writes pcm (at the codec's rate) as a pcap of RTP packets, one
// 20 ms frame each, 20 ms apart, for SIPp's play_pcap_audio (which sends
// them from its own media port, whatever the addresses here).
func WriteRTP(w io.Writer, pcm []int16, codec media.Codec) error {
	n := media.FrameSamples(codec.ClockRate())
	src := netip.MustParseAddrPort("127.0.0.1:16000")
	dst := netip.MustParseAddrPort("127.0.0.1:16002")
	t0 := time.Unix(1700000000, 0)
	var pkts []Packet
	frame := make([]int16, n)
	for i := 0; i*n < len(pcm); i++ {
		clear(frame)
		copy(frame, pcm[i*n:min((i+1)*n, len(pcm))])
		p := rtp.Packet{
			Header: rtp.Header{
				Version: 2, Marker: i == 0, PayloadType: codec.PayloadType(),
				SequenceNumber: uint16(1000 + i), Timestamp: uint32(8000 + i*n), SSRC: CallerSSRC,
			},
			Payload: codec.Encode(nil, frame),
		}
		b, err := p.Marshal()
		if err != nil {
			return err
		}
		pkts = append(pkts, Packet{Time: t0.Add(time.Duration(i) * media.FrameDuration), Src: src, Dst: dst, Payload: b})
	}
	return Write(w, pkts)
}
