// Command rtppcap turns a WAV file into a pcap of G.711 RTP packets, 20 ms
// apart, for SIPp's play_pcap_audio. Speech and DTMF then leave SIPp from
// the same media port, as they do from a real phone.
//
//	go run ./test/tools/rtppcap -codec PCMU test/audio/caller-pcm.wav test/audio/caller-pcmu.pcap
package main

import (
	"flag"
	"fmt"
	"os"

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
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := pcapfile.WriteRTP(f, pcm, codec); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
