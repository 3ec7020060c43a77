package sip

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// logBuffer collects log output; it also echoes to stderr when
// HOTLINE_SIP_TEST_LOG is set.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if os.Getenv("HOTLINE_SIP_TEST_LOG") != "" {
		os.Stderr.Write(p)
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig listens on loopback, ports chosen by the kernel.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Listen = []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}
	cfg.RTPBindAddr = "127.0.0.1"
	cfg.RTPPortMin, cfg.RTPPortMax = 30000, 39999
	return cfg
}

type testServer struct {
	*Server
	logs *logBuffer
}

// newTestServer builds a server; tune adjusts it before Start.
func newTestServer(t testing.TB, cfg Config, h Handler, tune ...func(*Server)) *testServer {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := NewServer(cfg, h, log)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	for _, f := range tune {
		f(s)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{Server: s, logs: logs}
}

// caller is a test UAC built on sipgo's own client and dialog API.
type caller struct {
	t         testing.TB
	transport string
	ua        *sipgo.UserAgent
	cli       *sipgo.Client
	dua       *sipgo.DialogUA
	byes      chan *siplib.Request
	contact   siplib.ContactHeader // where it takes requests

	mu   sync.Mutex
	sess *sipgo.DialogClientSession
}

// newCaller makes a UAC on 127.0.0.1 (or from, if given) speaking transport.
func newCaller(t testing.TB, transport string, from ...string) *caller {
	t.Helper()
	host := "127.0.0.1"
	if len(from) > 0 {
		host = from[0]
	}
	return newUA(t, transport, host, nil)
}

// newUA makes a user agent on host speaking transport; setup, if given,
// installs more request handlers before it serves.
func newUA(t testing.TB, transport, host string, setup func(*caller, *sipgo.Server)) *caller {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-caller"),
		sipgo.WithUserAgentTransportLayerOptions(siplib.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(siplib.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	c := &caller{t: t, transport: transport, ua: ua, byes: make(chan *siplib.Request, 4)}
	srv.OnBye(func(req *siplib.Request, tx siplib.ServerTransaction) {
		c.mu.Lock()
		sess := c.sess
		c.mu.Unlock()
		if sess != nil {
			_ = sess.ReadBye(req, tx)
		} else {
			_ = tx.Respond(siplib.NewResponseFromRequest(req, 200, "OK", nil))
		}
		select {
		case c.byes <- req:
		default:
		}
	})
	contact := siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", User: "caller", Host: host}}
	if setup != nil {
		setup(c, srv)
	}
	opts := []sipgo.ClientOption{sipgo.WithClientLogger(quiet)}
	var done chan struct{}
	var pc net.PacketConn
	if transport == "udp" {
		pc, err = net.ListenPacket("udp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		done = make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.ServeUDP(pc)
		}()
		// Requests must leave from the listener, so wait for sipgo to pool it.
		pool := ua.TransportLayer().Pool("udp")
		within(t, 2*time.Second, func() bool {
			conn := pool.Get(pc.LocalAddr().String())
			if conn != nil {
				_, _ = conn.TryClose()
			}
			return conn != nil
		}, "the caller's listener")
		contact.Address.Port = pc.LocalAddr().(*net.UDPAddr).Port
		opts = append(opts, sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
	} else {
		opts = append(opts, sipgo.WithClientConnectionAddr(host+":0"))
	}
	c.cli, err = sipgo.NewClient(ua, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c.contact = contact
	c.dua = &sipgo.DialogUA{Client: c.cli, ContactHDR: contact}
	t.Cleanup(func() {
		_ = ua.Close()
		if pc != nil {
			_ = pc.Close()
			<-done
		}
		// A server transaction ended by Close may still answer, and sipgo
		// then opens a socket the closed UA never closes: close it.
		pool := ua.TransportLayer().Pool("udp")
		for range 10 {
			_ = pool.Clear()
			time.Sleep(10 * time.Millisecond)
		}
	})
	return c
}

// uri addresses user at the server's listener for the caller's transport.
func (c *caller) uri(s *testServer, user string) siplib.Uri {
	ap := s.Addr(c.transport)
	u := siplib.Uri{Scheme: "sip", User: user, Host: ap.Addr().String(), Port: int(ap.Port())}
	if c.transport == "tcp" {
		u.UriParams = siplib.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return u
}

// invite sends an INVITE with body (nil: late offer) and returns the
// session; wait for the answer with WaitAnswer.
func (c *caller) invite(ctx context.Context, s *testServer, user string, body []byte, hdrs ...siplib.Header) *sipgo.DialogClientSession {
	c.t.Helper()
	if body != nil {
		hdrs = append(hdrs, siplib.NewHeader("Content-Type", "application/sdp"))
	}
	sess, err := c.dua.Invite(ctx, c.uri(s, user), body, hdrs...)
	if err != nil {
		c.t.Fatalf("invite: %v", err)
	}
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	return sess
}

// dial places a call with offer and completes it with ACK.
func (c *caller) dial(ctx context.Context, s *testServer, offer []byte) *sipgo.DialogClientSession {
	c.t.Helper()
	sess := c.invite(ctx, s, "100", offer)
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		c.t.Fatalf("wait answer: %v", err)
	}
	if err := sess.Ack(ctx); err != nil {
		c.t.Fatalf("ack: %v", err)
	}
	return sess
}

// waitBye waits for the server's BYE.
func (c *caller) waitBye(timeout time.Duration) *siplib.Request {
	c.t.Helper()
	select {
	case req := <-c.byes:
		return req
	case <-time.After(timeout):
		c.t.Fatalf("no BYE within %s", timeout)
		return nil
	}
}

// do sends a request outside any dialog and returns the final response.
func (c *caller) do(ctx context.Context, req *siplib.Request) *siplib.Response {
	c.t.Helper()
	if c.transport == "tcp" {
		req.SetTransport("TCP")
	}
	res, err := c.cli.Do(ctx, req)
	if err != nil {
		c.t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

// phone is the caller's media: its own RTP session and Stream clock.
type phone struct {
	rtp, rtcp *net.UDPConn
	sess      *media.RTPSession
	stream    *media.Stream
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

func newPhone(t testing.TB) *phone {
	t.Helper()
	pr, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 40000, 49999)
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{}
	p.rtp, p.rtcp, err = pr.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

func (p *phone) port() int { return p.rtp.LocalAddr().(*net.UDPAddr).Port }

// offer is the phone's SDP offer: PCMU, PCMA and telephone-event.
func (p *phone) offer(extra ...string) []byte {
	lines := []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=phone", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 8 101", p.port()),
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"}
	if len(extra) == 0 {
		extra = []string{"a=sendrecv"}
	}
	return sdpLines(append(lines, extra...)...)
}

// start runs the phone's media towards what the far SDP says.
func (p *phone) start(t testing.TB, farSDP []byte) {
	t.Helper()
	far, err := parseFar(farSDP, audioCodecs, "sdp")
	if err != nil {
		t.Fatalf("far sdp: %v\n%s", err, farSDP)
	}
	cfg := media.RTPConfig{Codec: mediaCodec(far.Codec), Remote: far.Addr, Direction: media.SendRecv}
	if far.DTMF.Name != "" {
		cfg.DTMFPayloadType = far.DTMF.PT
	}
	p.sess = media.NewRTPSession(p.rtp, p.rtcp, cfg)
	p.stream = media.NewStream(8000, p.sess)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go func() { defer p.wg.Done(); _ = p.sess.Run(ctx) }()
	go func() { defer p.wg.Done(); p.stream.Run(ctx) }()
}

// stop ends the phone's media and frees its ports.
func (p *phone) stop() {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
		p.cancel = nil
	}
	if p.sess != nil {
		_ = p.sess.Close()
		p.sess = nil
		return
	}
	if p.rtp != nil {
		_ = p.rtp.Close()
		_ = p.rtcp.Close()
	}
}

// tone is an endless sine source cut into 20 ms frames.
type tone struct {
	freq float64
	n    int
}

func (g *tone) frame() []int16 {
	f := make([]int16, 160)
	for i := range f {
		f[i] = int16(0.4 * 32767 * math.Sin(2*math.Pi*g.freq*float64(g.n+i)/8000))
	}
	g.n += 160
	return f
}

// sendTone writes freq to w until ctx is done.
func sendTone(ctx context.Context, w interface {
	WriteFrame(context.Context, []int16) error
}, freq float64) {
	g := &tone{freq: freq}
	for ctx.Err() == nil {
		if err := w.WriteFrame(ctx, g.frame()); err != nil {
			return
		}
	}
}

// hearTone reads from r until it has heard freq in 10 frames running, or
// ctx ends; it reports whether it did.
func hearTone(ctx context.Context, r interface {
	ReadFrame(context.Context) ([]int16, error)
}, freq float64) bool {
	run := 0
	for {
		f, err := r.ReadFrame(ctx)
		if err != nil {
			return false
		}
		if media.Level(f) > -30 && audiotest.ToneShare(f, 8000, freq) > 0.6 {
			run++
			if run >= 10 {
				return true
			}
		} else {
			run = 0
		}
	}
}

func within(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onlyDialog is the single dialog the server holds.
func onlyDialog(t *testing.T, s *testServer) *dialog {
	t.Helper()
	ds := s.snapshot()
	if len(ds) != 1 {
		t.Fatalf("server holds %d dialogs, want 1", len(ds))
	}
	return ds[0]
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
