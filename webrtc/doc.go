// Package webrtc makes browser calls into media.Legs, so the rest of
// Hotline treats a caller on the web page, or an agent's browser phone,
// like a SIP call.
//
// An agent's phone is a signaling socket (/ws/agent, WithAgentPhones) the
// agent desktop keeps open while the agent is signed in. RingAgent sends
// it "incoming"; the agent's "accept" is followed by the page's offer,
// which sets up the call exactly as a caller's offer does, and the socket
// stays open for the next call.
//
// A browser leg is a pion PeerConnection with one audio track each way,
// set up by JSON messages over a WebSocket (see Message): the page offers,
// the server answers, both trickle ICE candidates; media is DTLS-SRTP.
// Audio is G.711 (PCMU preferred, PCMA), which every browser speaks; Opus
// is never negotiated because Hotline has no Go Opus codec. Keys arrive as
// RFC 4733 telephone-events when the page's offer has them, or as dtmf
// messages.
//
// The leg is a media.Stream over a Port of this package (trackPort) that
// reuses media's jitter buffer, G.711 codecs and telephone-event parsing.
// It cannot reuse media.RTPSession, which owns UDP sockets, so it repeats
// that type's small per-packet logic (payload checks, key de-duplication,
// the outgoing header). Splitting RTPSession into a packet core that
// takes packets in and hands packets to a writer, and the UDP transport
// around it, would let both legs share one Port.
package webrtc
