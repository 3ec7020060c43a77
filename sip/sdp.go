package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// This file is the offer/answer model of RFC 3264 for one audio stream.
// It knows nothing of sockets or dialogs: it turns the far end's SDP into a
// farMedia and renders ours, so it can be table-tested and fuzzed alone.

// format is one RTP payload format.
type format struct {
	Name string // encoding name as in rtpmap, e.g. "PCMU"
	PT   uint8  // payload type
	Rate int    // clock rate
}

var (
	fmtPCMU = format{Name: "PCMU", PT: 0, Rate: 8000}
	fmtPCMA = format{Name: "PCMA", PT: 8, Rate: 8000}
	// fmtDTMF is the telephone-event format we offer (RFC 4733).
	fmtDTMF = format{Name: "telephone-event", PT: 101, Rate: 8000}
)

// audioCodecs are the codecs we accept, in our order of preference for the
// offers we make; in answers the offerer's order wins.
var audioCodecs = []format{fmtPCMU, fmtPCMA}

// sdpError is a session description we cannot use. Every such failure is
// answered 488 Not Acceptable Here with a Warning saying why.
type sdpError struct {
	reason string // for the Warning header and logs, lowercase
	err    error  // underlying parse error, if any
}

func (e *sdpError) Error() string { return "sdp: " + e.reason }
func (e *sdpError) Unwrap() error { return e.err }

// status is the SIP response code that answers this failure.
func (e *sdpError) status() int { return 488 }

// warning is the Warning header value (RFC 3261 §20.43, code 399:
// miscellaneous warning) for this failure.
func (e *sdpError) warning(agent string) string {
	return fmt.Sprintf("399 %s \"%s\"", agent, sanitizeWarning(e.reason))
}

func sdpErrorf(format string, args ...any) *sdpError {
	return &sdpError{reason: fmt.Sprintf(format, args...)}
}

// farMedia is what the far end's SDP says about the audio stream we use.
type farMedia struct {
	// Addr is where to send RTP. Its address is unspecified when the far
	// end holds us the RFC 2543 way, with c=0.0.0.0.
	Addr netip.AddrPort
	// Dir is the direction as the far end states it.
	Dir sdp.Direction
	// Codec is the first format of theirs we support, with their payload type.
	Codec format
	// DTMF is their telephone-event format; DTMF.Name is empty without one.
	DTMF format
	// index is the position of the audio m= line; mlines are all of the
	// offer's m= lines, which an answer must repeat in order (RFC 3264 §6).
	index  int
	mlines []sdp.MediaName
}

// Hold reports whether the far end put the stream on hold (RFC 3264 §8.4
// and RFC 2543's c=0.0.0.0).
func (f farMedia) Hold() bool {
	return !f.Addr.Addr().IsValid() || f.Addr.Addr().IsUnspecified() ||
		f.Dir == sdp.DirectionSendOnly || f.Dir == sdp.DirectionInactive
}

// localDir is our direction for f: the mirror of theirs, without sending
// when they gave us no address to send to.
func (f farMedia) localDir() sdp.Direction {
	d := reverseDir(f.Dir)
	if !f.Addr.Addr().IsValid() || f.Addr.Addr().IsUnspecified() {
		switch d {
		case sdp.DirectionSendRecv:
			d = sdp.DirectionRecvOnly
		case sdp.DirectionSendOnly:
			d = sdp.DirectionInactive
		}
	}
	return d
}

// expectRTP reports whether RTP should keep arriving, so that silence on
// the wire means the far end is gone: only on an active two-way stream.
func (f farMedia) expectRTP() bool {
	return f.Dir == sdp.DirectionSendRecv && f.Addr.Addr().IsValid() && !f.Addr.Addr().IsUnspecified()
}

func reverseDir(d sdp.Direction) sdp.Direction {
	switch d {
	case sdp.DirectionSendOnly:
		return sdp.DirectionRecvOnly
	case sdp.DirectionRecvOnly:
		return sdp.DirectionSendOnly
	case sdp.DirectionInactive:
		return sdp.DirectionInactive
	default:
		return sdp.DirectionSendRecv
	}
}

// parseOffer reads an offer and picks its first audio stream we can serve,
// and in it the first codec of theirs we support. The error is an *sdpError.
func parseOffer(body []byte) (farMedia, error) {
	return parseFar(body, audioCodecs, "offer")
}

// parseAnswer reads the answer to offer (which we made: one audio m= line
// with the codecs in offered).
func parseAnswer(body []byte, offered []format) (farMedia, error) {
	f, err := parseFar(body, offered, "answer")
	if err != nil {
		return f, err
	}
	if len(f.mlines) != 1 || f.index != 0 {
		return f, sdpErrorf("answer has %d m= lines for our offer of one", len(f.mlines))
	}
	return f, nil
}

func parseFar(body []byte, codecs []format, kind string) (farMedia, error) {
	var f farMedia
	if len(body) == 0 {
		return f, sdpErrorf("empty %s", kind)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return f, &sdpError{reason: "malformed sdp: " + err.Error(), err: err}
	}
	if len(sd.MediaDescriptions) == 0 {
		return f, sdpErrorf("%s has no m= line", kind)
	}
	var sessAddr netip.Addr
	if sd.ConnectionInformation != nil {
		a, err := connAddr(sd.ConnectionInformation)
		if err != nil {
			return f, err
		}
		sessAddr = a
	}
	sessDir := dirAttr(sd.Attributes)

	f.index = -1
	var why *sdpError
	whyAudio := false
	for i, md := range sd.MediaDescriptions {
		f.mlines = append(f.mlines, md.MediaName)
		if f.index >= 0 {
			continue // one audio stream is all we serve; the rest are refused
		}
		m, err := parseAudio(md, sessAddr, sessDir, codecs)
		if err != nil {
			// Say why the first audio stream failed, else why the first
			// stream did.
			audio := strings.EqualFold(md.MediaName.Media, "audio")
			if why == nil || (audio && !whyAudio) {
				why, whyAudio = err, audio
			}
			continue
		}
		m.index, m.mlines = i, f.mlines
		f = m
	}
	if f.index < 0 {
		if why == nil {
			why = sdpErrorf("%s has no audio stream", kind)
		}
		return farMedia{}, why
	}
	f.mlines = append([]sdp.MediaName(nil), f.mlines...)
	return f, nil
}

// parseAudio reads one m= line; the error says why we cannot use it.
func parseAudio(md *sdp.MediaDescription, sessAddr netip.Addr, sessDir sdp.Direction, codecs []format) (farMedia, *sdpError) {
	var f farMedia
	mn := md.MediaName
	if !strings.EqualFold(mn.Media, "audio") {
		return f, sdpErrorf("no audio stream (only %q)", mn.Media)
	}
	if mn.Port.Value == 0 {
		return f, sdpErrorf("audio stream has port 0")
	}
	if mn.Port.Value < 0 || mn.Port.Value > 65535 {
		return f, sdpErrorf("audio port %d out of range", mn.Port.Value)
	}
	if proto := strings.Join(mn.Protos, "/"); !strings.EqualFold(proto, "RTP/AVP") {
		return f, sdpErrorf("unsupported transport %q: only RTP/AVP", proto)
	}
	addr := sessAddr
	if md.ConnectionInformation != nil {
		a, err := connAddr(md.ConnectionInformation)
		if err != nil {
			return f, err
		}
		addr = a
	}
	if !addr.IsValid() {
		return f, sdpErrorf("no c= line for the audio stream")
	}
	f.Addr = netip.AddrPortFrom(addr, uint16(mn.Port.Value))

	f.Dir = dirAttr(md.Attributes)
	if f.Dir == 0 {
		f.Dir = sessDir
	}
	if f.Dir == 0 {
		f.Dir = sdp.DirectionSendRecv
	}

	rtpmaps := map[uint8]format{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		if r, ok := parseRtpmap(a.Value); ok {
			if _, dup := rtpmaps[r.PT]; !dup {
				rtpmaps[r.PT] = r
			}
		}
	}
	var offered []string
	found := false
	for _, s := range mn.Formats {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil || n > 127 {
			return farMedia{}, sdpErrorf("bad payload type %q", s)
		}
		pt := uint8(n)
		r, ok := rtpmaps[pt]
		if !ok {
			r, ok = staticFormat(pt)
		}
		if !ok {
			offered = append(offered, s)
			continue
		}
		offered = append(offered, r.Name)
		if strings.EqualFold(r.Name, fmtDTMF.Name) && r.Rate == 8000 {
			if f.DTMF.Name == "" {
				f.DTMF = format{Name: fmtDTMF.Name, PT: pt, Rate: r.Rate}
			}
			continue
		}
		if found {
			continue
		}
		for _, c := range codecs {
			if strings.EqualFold(r.Name, c.Name) && r.Rate == c.Rate {
				f.Codec = format{Name: c.Name, PT: pt, Rate: c.Rate}
				found = true
				break
			}
		}
	}
	if !found {
		return farMedia{}, sdpErrorf("no common codec: offered %s, we support PCMU and PCMA",
			strings.Join(offered, " "))
	}
	return f, nil
}

// parseRtpmap reads "96 PCMU/8000[/1]".
func parseRtpmap(v string) (format, bool) {
	ptStr, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return format{}, false
	}
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil || pt > 127 {
		return format{}, false
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return format{}, false
	}
	rate, err := strconv.Atoi(parts[1])
	if err != nil || rate <= 0 {
		return format{}, false
	}
	if len(parts) == 3 && parts[2] != "1" {
		return format{}, false // stereo and beyond: not a format we can play
	}
	return format{Name: parts[0], PT: uint8(pt), Rate: rate}, true
}

// staticFormat is the RFC 3551 meaning of a payload type with no rtpmap.
func staticFormat(pt uint8) (format, bool) {
	switch pt {
	case fmtPCMU.PT:
		return fmtPCMU, true
	case fmtPCMA.PT:
		return fmtPCMA, true
	}
	return format{}, false
}

// connAddr reads a c= line: IN, IP4 or IP6, one unicast address.
func connAddr(c *sdp.ConnectionInformation) (netip.Addr, *sdpError) {
	if !strings.EqualFold(c.NetworkType, "IN") {
		return netip.Addr{}, sdpErrorf("c= network type %q: only IN", c.NetworkType)
	}
	if c.Address == nil {
		return netip.Addr{}, sdpErrorf("c= line has no address")
	}
	if c.Address.TTL != nil || c.Address.Range != nil || strings.Contains(c.Address.Address, "/") {
		return netip.Addr{}, sdpErrorf("c= multicast address %q is not supported", c.Address.String())
	}
	a, err := netip.ParseAddr(c.Address.Address)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, sdpErrorf("c= address %q is not an IP address", c.Address.Address)
	}
	switch {
	case strings.EqualFold(c.AddressType, "IP4"):
		if !a.Is4() {
			return netip.Addr{}, sdpErrorf("c= address %q is not IP4", c.Address.Address)
		}
	case strings.EqualFold(c.AddressType, "IP6"):
		if !a.Is6() || a.Is4In6() {
			return netip.Addr{}, sdpErrorf("c= address %q is not IP6", c.Address.Address)
		}
	default:
		return netip.Addr{}, sdpErrorf("c= address type %q: want IP4 or IP6", c.AddressType)
	}
	if a.IsMulticast() {
		return netip.Addr{}, sdpErrorf("c= multicast address %q is not supported", c.Address.Address)
	}
	return a, nil
}

// dirAttr is the first direction attribute in attrs, or 0.
func dirAttr(attrs []sdp.Attribute) sdp.Direction {
	for _, a := range attrs {
		if d, err := sdp.NewDirection(a.Key); err == nil {
			return d
		}
	}
	return 0
}

// localSDP is our side of a dialog's session description: one origin whose
// version goes up only when what we describe changes (RFC 3264 §8).
type localSDP struct {
	agent   string
	id      uint64
	version uint64
	addr    netip.Addr // c= address
	port    int        // our RTP port
	last    string     // last body rendered, with version 0, to detect changes
}

func newLocalSDP(agent string, id uint64, addr netip.Addr, port int) *localSDP {
	return &localSDP{agent: agent, id: id, version: id, addr: addr, port: port}
}

// answer renders our answer to the offer f describes, using f's codec.
func (l *localSDP) answer(f farMedia) ([]byte, error) {
	mds := make([]*sdp.MediaDescription, 0, len(f.mlines))
	for i, mn := range f.mlines {
		if i != f.index {
			mds = append(mds, rejectedMedia(mn))
			continue
		}
		mds = append(mds, l.audio([]format{f.Codec}, f.DTMF, reverseDir(f.Dir)))
	}
	return l.render(mds)
}

// offer renders an offer of every codec we support, sendrecv.
func (l *localSDP) offer() ([]byte, error) {
	return l.render([]*sdp.MediaDescription{l.audio(audioCodecs, fmtDTMF, sdp.DirectionSendRecv)})
}

// reoffer renders an offer of the codec in use, for re-INVITEs without an
// offer: the same description as before when nothing changed.
func (l *localSDP) reoffer(cur farMedia) ([]byte, error) {
	return l.render([]*sdp.MediaDescription{l.audio([]format{cur.Codec}, cur.DTMF, sdp.DirectionSendRecv)})
}

// offered is what offer() puts on the m= line, for reading the answer.
func offeredFormats() []format { return audioCodecs }

func (l *localSDP) audio(codecs []format, dtmf format, dir sdp.Direction) *sdp.MediaDescription {
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: l.port},
			Protos: []string{"RTP", "AVP"},
		},
	}
	for _, c := range codecs {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(c.PT)))
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", c.PT, c.Name, c.Rate)))
	}
	if dtmf.Name != "" {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(dtmf.PT)))
		md.Attributes = append(md.Attributes,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", dtmf.PT, dtmf.Name, dtmf.Rate)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", dtmf.PT)))
	}
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("ptime", "20"),
		sdp.NewPropertyAttribute(dir.String()))
	return md
}

// rejectedMedia refuses an offered stream: same media, proto and formats,
// port 0 (RFC 3264 §6).
func rejectedMedia(mn sdp.MediaName) *sdp.MediaDescription {
	formats := mn.Formats
	if len(formats) == 0 {
		formats = []string{"0"}
	}
	return &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media:   mn.Media,
		Port:    sdp.RangedPort{Value: 0},
		Protos:  mn.Protos,
		Formats: formats,
	}}
}

// render marshals mds under our origin, bumping the version if the
// description differs from the last one rendered.
func (l *localSDP) render(mds []*sdp.MediaDescription) ([]byte, error) {
	addrType := "IP4"
	if l.addr.Is6() && !l.addr.Is4In6() {
		addrType = "IP6"
	}
	addr := l.addr.Unmap().WithZone("").String()
	sd := &sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      l.id,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr,
		},
		SessionName: sdp.SessionName(l.agent),
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: addr},
		},
		TimeDescriptions:  []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: mds,
	}
	key, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("render sdp: %w", err)
	}
	if string(key) != l.last {
		l.last = string(key)
		l.version++
	}
	sd.Origin.SessionVersion = l.version
	out, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("render sdp: %w", err)
	}
	return out, nil
}

// errNoSDP is a request that should carry an SDP body but does not.
var errNoSDP = errors.New("no sdp")
