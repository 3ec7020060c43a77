package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

// testConfig is a server that stays on loopback and gives up quickly.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.LoopbackOnly = true
	cfg.OfferTimeout = 2 * time.Second
	cfg.ConnectTimeout = 5 * time.Second
	cfg.ResumeWindow = 2 * time.Second
	cfg.CallRate, cfg.CallBurst = 100, 100
	return cfg
}

// startServer serves cfg on a loopback httptest server and returns the
// caller endpoint's ws:// URL. Cleanup shuts it down and checks that
// nothing was left running.
func startServer(t testing.TB, cfg Config, onCall func(context.Context, *Call), opts ...Option) (*Server, string) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := NewServer(cfg, onCall, log, opts...)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return s, "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws/call"
}

// testClient stands in for the caller page: a pion peer connection that
// sends a tone and records what it hears, over the real signaling.
type testClient struct {
	t     testing.TB
	ws    *websocket.Conn
	wsMu  sync.Mutex
	pc    *pion.PeerConnection
	track *pion.TrackLocalStaticRTP
	msgs  chan Message // everything but answer and candidates
	// answer is the server's answer message, once it came.
	answer chan Message

	offered bool      // under wsMu
	early   []Message // our candidates gathered before the offer went

	mu    sync.Mutex
	heard []int16

	stop chan struct{}
	wg   sync.WaitGroup
}

func loopbackSettings() pion.SettingEngine {
	var se pion.SettingEngine
	loopback := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(loopback)
	se.SetRemoteIPFilter(loopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// dialCall opens the signaling socket and sends an offer with codecs (in
// that order) and telephone-event.
func dialCall(t testing.TB, url string, codecs ...string) *testClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := newTestClient(t, ws, codecs...)
	c.offer()
	return c
}

// offer sends the client's offer, then the candidates gathered meanwhile.
func (c *testClient) offer() {
	c.t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	must(c.t, err)
	must(c.t, c.pc.SetLocalDescription(offer))
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	must(c.t, c.ws.WriteJSON(Message{V: Version, Type: TypeOffer, SDP: offer.SDP}))
	c.offered = true
	for _, m := range c.early {
		_ = c.ws.WriteJSON(m)
	}
}

func newTestClient(t testing.TB, ws *websocket.Conn, codecs ...string) *testClient {
	t.Helper()
	if len(codecs) == 0 {
		codecs = []string{"PCMU"}
	}
	me := &pion.MediaEngine{}
	pts := map[string]pion.PayloadType{"PCMU": 0, "PCMA": 8}
	for _, name := range codecs {
		must(t, me.RegisterCodec(pion.RTPCodecParameters{
			RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/" + name, ClockRate: 8000},
			PayloadType:        pts[name],
		}, pion.RTPCodecTypeAudio))
	}
	must(t, me.RegisterCodec(pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"},
		PayloadType:        101,
	}, pion.RTPCodecTypeAudio))
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(loopbackSettings()))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	must(t, err)
	send := codecs[0]
	if slices.Contains(codecs, "PCMU") {
		send = "PCMU" // what the server prefers
	}
	track, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: "audio/" + send, ClockRate: 8000}, "audio", "page")
	must(t, err)
	_, err = pc.AddTrack(track)
	must(t, err)
	c := &testClient{
		t: t, ws: ws, pc: pc, track: track,
		msgs: make(chan Message, 64), answer: make(chan Message, 1), stop: make(chan struct{}),
	}
	pc.OnICECandidate(func(cand *pion.ICECandidate) {
		if cand == nil {
			return
		}
		j := cand.ToJSON()
		m := Message{V: Version, Type: TypeCandidate, Candidate: &Candidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex}}
		c.wsMu.Lock()
		defer c.wsMu.Unlock()
		if !c.offered {
			c.early = append(c.early, m) // the offer goes first
			return
		}
		_ = c.ws.WriteJSON(m)
	})
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		codec, _ := media.CodecByName(strings.TrimPrefix(tr.Codec().MimeType, "audio/"))
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				pcm := codec.Decode(nil, p.Payload)
				c.mu.Lock()
				c.heard = append(c.heard, pcm...)
				c.mu.Unlock()
			}
		}()
	})
	c.wg.Add(1)
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (c *testClient) send(m Message) {
	m.V = Version
	b, _ := json.Marshal(m)
	c.sendRaw(websocket.TextMessage, b)
}

func (c *testClient) sendRaw(typ int, b []byte) {
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	_ = c.ws.WriteMessage(typ, b)
}

// readLoop applies the answer and candidates and queues the rest; the
// close error, if any, goes to msgs as an error message with Code "close"
// and the close code in Message.
func (c *testClient) readLoop() {
	defer c.wg.Done()
	defer close(c.msgs)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.msgs <- Message{Type: "closed", Code: itoa(ce.Code), Message: ce.Text}
			}
			return
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Errorf("server sent bad JSON %q: %v", b, err)
			return
		}
		switch m.Type {
		case TypeAnswer:
			if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				c.t.Errorf("apply answer: %v", err)
			}
			c.answer <- m
		case TypeCandidate:
			// Not an error by itself: a candidate may land as the test closes
			// the client; a bad one shows as media that never connects.
			if err := c.pc.AddICECandidate(pion.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex}); err != nil {
				c.t.Logf("add candidate: %v", err)
			}
		default:
			c.msgs <- m
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// next returns the next message that is not an answer or a candidate.
func (c *testClient) next(timeout time.Duration) Message {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatal("socket closed with no message")
		}
		return m
	case <-time.After(timeout):
		c.t.Fatalf("no message in %v", timeout)
	}
	return Message{}
}

// waitAnswer returns the answer message.
func (c *testClient) waitAnswer() Message {
	c.t.Helper()
	select {
	case m := <-c.answer:
		return m
	case <-time.After(5 * time.Second):
		c.t.Fatal("no answer")
	}
	return Message{}
}

// sendTone sends a tone of freq Hz as PCMU packets every 20 ms until close.
func (c *testClient) sendTone(freq float64) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tone := audiotest.Tone(8000, freq, 0.3, 8000)
		tick := time.NewTicker(media.FrameDuration)
		defer tick.Stop()
		p := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1234, Marker: true}}
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			off := (i * 160) % len(tone)
			p.Payload = media.PCMU.Encode(p.Payload, tone[off:off+160])
			_ = c.track.WriteRTP(&p)
			p.SequenceNumber++
			p.Timestamp += 160
			p.Marker = false
		}
	}()
}

// heardSince returns the audio received after the first skip samples.
func (c *testClient) heardSince(skip int) []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if skip >= len(c.heard) {
		return nil
	}
	return append([]int16(nil), c.heard[skip:]...)
}

// closeSocket drops the signaling socket without a word, as a lost
// network would.
func (c *testClient) closeSocket() {
	_ = c.ws.NetConn().Close()
}

func (c *testClient) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	_ = c.ws.Close()
	_ = c.pc.Close()
	c.wg.Wait()
}

// waitConnected waits for the client's media to connect.
func (c *testClient) waitConnected(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for c.pc.ConnectionState() != pion.PeerConnectionStateConnected {
		if time.Now().After(deadline) {
			c.t.Fatalf("media not connected after %v: %s", timeout, c.pc.ConnectionState())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialHTTP tries to open the signaling socket and returns the HTTP status
// the server answered with.
func dialHTTP(t *testing.T, url string, hdr http.Header) int {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		_ = ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}
