// Command rtppcap turns a WAV file into a pcap of G.711 RTP packets, 20 ms
// apart, for SIPp's play_pcap_audio. Speech and DTMF then leave SIPp from
// the same media port, as they do from a real phone.
//
//	go run ./test/tools/rtppcap -codec PCMU test/audio/caller-pcm.wav test/audio/caller-pcmu.pcap
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/internal/pcapfile"
	"github.com/hotline-cc/hotline/media"
)

func main() {
	codecName := flag.String("codec", "PCMU", "PCMU or PCMA")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: rtppcap [-codec PCMU|PCMA] in.wav out.pcap")
		os.Exit(2)
	}
	if err := run(*codecName, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "rtppcap:", err)
		os.Exit(1)
	}
}

func run(codecName, in, out string) error {
	codec, ok := media.CodecByName(codecName)
	if !ok {
		return fmt.Errorf("unknown codec %q", codecName)
	}
	pcm, err := media.LoadWAVFile(in, codec.ClockRate())
	if err != nil {
		return err
	}
	n := media.FrameSamples(codec.ClockRate())
	src := netip.MustParseAddrPort("127.0.0.1:16000")
	dst := netip.MustParseAddrPort("127.0.0.1:16002")
	t0 := time.Unix(1700000000, 0)
	var pkts []pcapfile.Packet
	frame := make([]int16, n)
	for i := 0; i*n < len(pcm); i++ {
		clear(frame)
		copy(frame, pcm[i*n:min((i+1)*n, len(pcm))])
		p := rtp.Packet{
			Header: rtp.Header{
				Version: 2, Marker: i == 0, PayloadType: codec.PayloadType(),
				SequenceNumber: uint16(1000 + i), Timestamp: uint32(8000 + i*n), SSRC: 0x484f544c,
			},
			Payload: codec.Encode(nil, frame),
		}
		b, err := p.Marshal()
		if err != nil {
			return err
		}
		pkts = append(pkts, pcapfile.Packet{Time: t0.Add(time.Duration(i) * media.FrameDuration), Src: src, Dst: dst, Payload: b})
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := pcapfile.Write(f, pkts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
