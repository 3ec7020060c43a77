package sip

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// sdpLines joins lines with CRLF, as SDP is sent.
func sdpLines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func offerSDP(media ...string) []byte {
	head := []string{"v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0"}
	return sdpLines(append(head, media...)...)
}

func TestNegotiateAccepts(t *testing.T) {
	for name, tc := range map[string]struct {
		offer    []byte
		codec    format
		dtmf     uint8 // 0: none expected
		dir      sdp.Direction
		addr     string
		localDir sdp.Direction
		expect   bool
	}{
		"pcmu static": {
			offer: offerSDP("m=audio 4000 RTP/AVP 0 8"),
			codec: fmtPCMU, dir: sdp.DirectionSendRecv, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionSendRecv, expect: true,
		},
		"offerer order wins": {
			offer: offerSDP("m=audio 4000 RTP/AVP 18 8 0", "a=rtpmap:18 G729/8000"),
			codec: fmtPCMA, dir: sdp.DirectionSendRecv, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionSendRecv, expect: true,
		},
		"dynamic payload type kept": {
			offer: offerSDP("m=audio 4000 RTP/AVP 96 101", "a=rtpmap:96 pcmu/8000", "a=rtpmap:101 telephone-event/8000"),
			codec: format{Name: "PCMU", PT: 96, Rate: 8000}, dtmf: 101, dir: sdp.DirectionSendRecv,
			addr: "192.0.2.10:4000", localDir: sdp.DirectionSendRecv, expect: true,
		},
		"telephone-event pt as offered": {
			offer: offerSDP("m=audio 4000 RTP/AVP 8 97", "a=rtpmap:97 telephone-event/8000", "a=fmtp:97 0-15"),
			codec: fmtPCMA, dtmf: 97, dir: sdp.DirectionSendRecv, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionSendRecv, expect: true,
		},
		"sendonly is hold": {
			offer: offerSDP("m=audio 4000 RTP/AVP 0", "a=sendonly"),
			codec: fmtPCMU, dir: sdp.DirectionSendOnly, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionRecvOnly,
		},
		"session-level inactive": {
			offer: sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
				"a=inactive", "m=audio 4000 RTP/AVP 0"),
			codec: fmtPCMU, dir: sdp.DirectionInactive, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionInactive,
		},
		"recvonly": {
			offer: offerSDP("m=audio 4000 RTP/AVP 0", "a=recvonly"),
			codec: fmtPCMU, dir: sdp.DirectionRecvOnly, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionSendOnly,
		},
		"rfc 2543 hold": {
			offer: sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 0.0.0.0", "t=0 0",
				"m=audio 4000 RTP/AVP 0"),
			codec: fmtPCMU, dir: sdp.DirectionSendRecv, addr: "0.0.0.0:4000",
			localDir: sdp.DirectionRecvOnly,
		},
		"media-level c= over session": {
			offer: sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
				"m=audio 4000 RTP/AVP 0", "c=IN IP4 198.51.100.7"),
			codec: fmtPCMU, dir: sdp.DirectionSendRecv, addr: "198.51.100.7:4000",
			localDir: sdp.DirectionSendRecv, expect: true,
		},
		"ipv6": {
			offer: sdpLines("v=0", "o=- 1 1 IN IP6 2001:db8::1", "s=-", "c=IN IP6 2001:db8::1", "t=0 0",
				"m=audio 4000 RTP/AVP 0"),
			codec: fmtPCMU, dir: sdp.DirectionSendRecv, addr: "[2001:db8::1]:4000",
			localDir: sdp.DirectionSendRecv, expect: true,
		},
		"video first, audio second": {
			offer: offerSDP("m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 4000 RTP/AVP 0"),
			codec: fmtPCMU, dir: sdp.DirectionSendRecv, addr: "192.0.2.10:4000",
			localDir: sdp.DirectionSendRecv, expect: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := parseOffer(tc.offer)
			if err != nil {
				t.Fatalf("parseOffer: %v", err)
			}
			if f.Codec != tc.codec {
				t.Errorf("codec = %+v, want %+v", f.Codec, tc.codec)
			}
			if tc.dtmf != 0 && (f.DTMF.Name == "" || f.DTMF.PT != tc.dtmf) {
				t.Errorf("dtmf = %+v, want pt %d", f.DTMF, tc.dtmf)
			}
			if tc.dtmf == 0 && f.DTMF.Name != "" {
				t.Errorf("dtmf = %+v, want none", f.DTMF)
			}
			if f.Dir != tc.dir {
				t.Errorf("dir = %v, want %v", f.Dir, tc.dir)
			}
			if f.Addr != netip.MustParseAddrPort(tc.addr) {
				t.Errorf("addr = %v, want %v", f.Addr, tc.addr)
			}
			if d := f.localDir(); d != tc.localDir {
				t.Errorf("localDir = %v, want %v", d, tc.localDir)
			}
			if f.expectRTP() != tc.expect {
				t.Errorf("expectRTP = %v, want %v", f.expectRTP(), tc.expect)
			}
			l := newLocalSDP("Hotline", 42, netip.MustParseAddr("203.0.113.5"), 10000)
			ans, err := l.answer(f)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, tc.offer, ans, f)
		})
	}
}

// checkAnswer asserts the RFC 3264 §6 shape of ans against offer.
func checkAnswer(t *testing.T, offer, ans []byte, f farMedia) {
	t.Helper()
	var o, a sdp.SessionDescription
	if err := o.Unmarshal(offer); err != nil {
		t.Fatalf("offer does not parse: %v", err)
	}
	if err := a.Unmarshal(ans); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, ans)
	}
	if len(a.MediaDescriptions) != len(o.MediaDescriptions) {
		t.Fatalf("answer has %d m= lines, offer %d", len(a.MediaDescriptions), len(o.MediaDescriptions))
	}
	for i, md := range a.MediaDescriptions {
		if md.MediaName.Media != o.MediaDescriptions[i].MediaName.Media {
			t.Errorf("m= line %d is %q, offer %q", i, md.MediaName.Media, o.MediaDescriptions[i].MediaName.Media)
		}
		if i != f.index {
			if md.MediaName.Port.Value != 0 {
				t.Errorf("m= line %d not chosen but port %d", i, md.MediaName.Port.Value)
			}
			continue
		}
		if md.MediaName.Port.Value != 10000 {
			t.Errorf("audio port = %d", md.MediaName.Port.Value)
		}
		if got := md.MediaName.Formats[0]; got != itoa(f.Codec.PT) {
			t.Errorf("answer codec pt %s, want %d", got, f.Codec.PT)
		}
		if d := dirAttr(md.Attributes); d != reverseDir(f.Dir) {
			t.Errorf("answer direction %v, want %v", d, reverseDir(f.Dir))
		}
		hasDTMF := false
		for _, x := range md.MediaName.Formats[1:] {
			hasDTMF = hasDTMF || x == itoa(f.DTMF.PT)
		}
		if hasDTMF != (f.DTMF.Name != "") {
			t.Errorf("answer telephone-event = %v, want %v", hasDTMF, f.DTMF.Name != "")
		}
	}
}

func itoa(pt uint8) string { return strconv.Itoa(int(pt)) }

func TestNegotiateRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		offer []byte
		want  string
	}{
		"empty":              {nil, "empty offer"},
		"garbage":            {[]byte("hello world"), "malformed sdp"},
		"no version":         {sdpLines("o=- 1 1 IN IP4 192.0.2.10", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), "malformed sdp"},
		"no media":           {offerSDP(), "no m= line"},
		"video only":         {offerSDP("m=video 5000 RTP/AVP 96"), "no audio stream"},
		"no common codec":    {offerSDP("m=audio 4000 RTP/AVP 18 9", "a=rtpmap:18 G729/8000", "a=rtpmap:9 G722/8000"), "no common codec: offered G729 G722"},
		"pcmu at 16k":        {offerSDP("m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/16000"), "no common codec"},
		"stereo pcmu":        {offerSDP("m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000/2"), "no common codec"},
		"only dtmf":          {offerSDP("m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000"), "no common codec"},
		"srtp":               {offerSDP("m=audio 4000 RTP/SAVP 0"), "unsupported transport \"RTP/SAVP\""},
		"dtls":               {offerSDP("m=audio 4000 UDP/TLS/RTP/SAVPF 0"), "unsupported transport"},
		"port zero":          {offerSDP("m=audio 0 RTP/AVP 0"), "port 0"},
		"payload type range": {offerSDP("m=audio 4000 RTP/AVP 200"), "bad payload type"},
		"payload type text":  {offerSDP("m=audio 4000 RTP/AVP PCMU"), "bad payload type"},
		"no c line": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "no c= line"},
		"hostname c line": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 pbx.example.com", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "not an IP address"},
		"multicast": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 224.2.1.1/127", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "multicast"},
		"multicast no ttl": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 239.1.1.1", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "multicast"},
		"ip6 in ip4": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 2001:db8::1", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "not IP4"},
		"ip4 in ip6": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP6 192.0.2.1", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "not IP6"},
		"atm network": {sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=ATM NSAP 47.0005", "t=0 0",
			"m=audio 4000 RTP/AVP 0"), "malformed sdp"},
		"audio reason wins": {offerSDP("m=video 5000 RTP/AVP 96", "m=audio 4000 RTP/AVP 18"), "no common codec"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseOffer(tc.offer)
			var se *sdpError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *sdpError", err)
			}
			if se.status() != 488 {
				t.Errorf("status = %d, want 488", se.status())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %q", err, tc.want)
			}
			w := se.warning("Hotline")
			if !strings.HasPrefix(w, `399 Hotline "`) || strings.Count(w, `"`) != 2 || strings.ContainsAny(w, "\r\n") {
				t.Errorf("warning %q is not a well-formed 399 warning", w)
			}
		})
	}
}

func TestLocalSDPVersion(t *testing.T) {
	l := newLocalSDP("Hotline", 7, netip.MustParseAddr("203.0.113.5"), 10000)
	f, err := parseOffer(offerSDP("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"))
	if err != nil {
		t.Fatal(err)
	}
	version := func(b []byte) uint64 {
		var sd sdp.SessionDescription
		if err := sd.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		return sd.Origin.SessionVersion
	}
	a1, _ := l.answer(f)
	a2, _ := l.answer(f)
	if version(a1) != version(a2) || string(a1) != string(a2) {
		t.Errorf("same answer twice changed the description:\n%s\n%s", a1, a2)
	}
	hold, _ := parseOffer(offerSDP("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=sendonly"))
	a3, _ := l.answer(hold)
	if version(a3) != version(a1)+1 {
		t.Errorf("hold answer version %d, want %d", version(a3), version(a1)+1)
	}
	a4, _ := l.answer(f)
	if version(a4) != version(a3)+1 {
		t.Errorf("resume answer version %d, want %d", version(a4), version(a3)+1)
	}
	if !strings.Contains(string(a3), "a=recvonly") {
		t.Errorf("hold answer is not recvonly:\n%s", a3)
	}
}

func TestParseAnswer(t *testing.T) {
	ans := offerSDP("m=audio 4000 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000")
	f, err := parseAnswer(ans, offeredFormats())
	if err != nil {
		t.Fatal(err)
	}
	if f.Codec != fmtPCMA || f.DTMF.PT != 101 {
		t.Errorf("answer read as %+v", f)
	}
	if _, err := parseAnswer(offerSDP("m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 0"), offeredFormats()); err == nil {
		t.Error("answer with two m= lines to an offer of one accepted")
	}
	if _, err := parseAnswer(offerSDP("m=audio 0 RTP/AVP 0"), offeredFormats()); err == nil {
		t.Error("answer refusing the stream accepted")
	}
}

// FuzzNegotiate feeds arbitrary offers to the negotiation: it must never
// panic, and every offer either yields an answer that is itself valid SDP
// with the same m= lines, or an error classified to 488.
func FuzzNegotiate(f *testing.F) {
	f.Add(offerSDP("m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv"))
	f.Add(offerSDP("m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 4000 RTP/AVP 96 8", "a=rtpmap:96 opus/48000/2"))
	f.Add(offerSDP("m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc"))
	f.Add(sdpLines("v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::", "t=0 0", "a=inactive", "m=audio 4000 RTP/AVP 0"))
	f.Add(sdpLines("v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 224.2.1.1/127/3", "t=0 0", "m=audio 4000/2 RTP/AVP 0"))
	f.Add([]byte("v=0\no=- 0 0 IN IP4 0.0.0.0\ns=\nt=0 0\nm=audio 1 RTP/AVP 0\nc=IN IP4 1.2.3.4\n"))
	f.Fuzz(func(t *testing.T, offer []byte) {
		far, err := parseOffer(offer)
		if err != nil {
			var se *sdpError
			if !errors.As(err, &se) || se.status() != 488 {
				t.Fatalf("error not classified to 488: %v", err)
			}
			if w := se.warning("Hotline"); strings.ContainsAny(w, "\r\n") {
				t.Fatalf("warning header would break the message: %q", w)
			}
			return
		}
		l := newLocalSDP("Hotline", 1, netip.MustParseAddr("203.0.113.5"), 10000)
		ans, err := l.answer(far)
		if err != nil {
			t.Fatalf("offer accepted but no answer: %v", err)
		}
		back, err := parseOffer(ans)
		if err != nil {
			t.Fatalf("our answer does not parse back: %v\n%s", err, ans)
		}
		if back.index != far.index || len(back.mlines) != len(far.mlines) || back.Codec.PT != far.Codec.PT {
			t.Fatalf("answer describes another stream: %+v vs %+v\n%s", back, far, ans)
		}
	})
}
