package webrtc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// callResult is what a test's onCall saw.
type callResult struct {
	call  *Call
	heard []int16
	cause error
}

// listenAndSpeak is an onCall that plays a 440 Hz tone to the page for
// speak and keeps what it heard until the call ends.
func listenAndSpeak(results chan<- callResult, speak time.Duration) func(context.Context, *Call) {
	return func(ctx context.Context, c *Call) {
		res := callResult{call: c}
		tone := audiotest.Tone(8000, 440, 0.3, 8000)
		go func() {
			for i := 0; time.Duration(i)*media.FrameDuration < speak; i++ {
				off := (i * 160) % len(tone)
				if c.Leg.WriteFrame(ctx, tone[off:off+160]) != nil {
					return
				}
			}
		}()
		for {
			f, err := c.Leg.ReadFrame(ctx)
			if err != nil {
				break
			}
			res.heard = append(res.heard, f...)
		}
		res.cause = context.Cause(ctx)
		results <- res
	}
}

func waitResult(t *testing.T, results <-chan callResult) callResult {
	t.Helper()
	return recv(t, results, "onCall did not return")
}

// recv waits for what comes on ch; after 10 s the test fails with why.
func recv[T any](t *testing.T, ch <-chan T, why string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal(why)
	}
	var zero T
	return zero
}

func TestAudioBothWaysAndPageHangsUp(t *testing.T) {
	results := make(chan callResult, 1)
	_, url := startServer(t, testConfig(), listenAndSpeak(results, 5*time.Second))
	c := dialCall(t, url, "PCMU")
	ans := c.waitAnswer()
	if !strings.HasPrefix(ans.Session, "wrtc-") || len(ans.Token) != 32 {
		t.Fatalf("answer session %q token %q", ans.Session, ans.Token)
	}
	if !strings.Contains(ans.SDP, "PCMU/8000") || strings.Contains(ans.SDP, "opus") {
		t.Fatalf("answer is not PCMU only:\n%s", ans.SDP)
	}
	c.waitConnected(5 * time.Second)
	c.sendTone(1000)
	time.Sleep(1500 * time.Millisecond)
	c.send(Message{Type: TypeHangup, Reason: "done"})
	r := waitResult(t, results)
	if !errors.Is(r.cause, ErrRemoteHangup) {
		t.Errorf("cause %v, want page hang-up", r.cause)
	}
	if r.call.Codec != "PCMU" || r.call.Leg.ID() != ans.Session {
		t.Errorf("call codec %s id %s", r.call.Codec, r.call.Leg.ID())
	}
	// The leg heard the page's tone (skip the jitter buffer's start).
	if len(r.heard) < 8000 {
		t.Fatalf("leg heard %d samples", len(r.heard))
	}
	last := r.heard[len(r.heard)-4000:]
	if share := audiotest.ToneShare(last, 8000, 1000); share < 0.8 {
		t.Errorf("1 kHz share of what the leg heard = %.2f", share)
	}
	// The page heard the leg's tone.
	got := c.heardSince(2000)
	if len(got) < 4000 {
		t.Fatalf("page heard %d samples", len(got))
	}
	if share := audiotest.ToneShare(got[len(got)-4000:], 8000, 440); share < 0.8 {
		t.Errorf("440 Hz share of what the page heard = %.2f", share)
	}
	if m := c.next(5 * time.Second); m.Type != "closed" || m.Code != "1000" {
		t.Errorf("after hang-up got %+v, want close 1000", m)
	}
	if st := r.call.Stats(); st.Received == 0 || st.Sent == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerHangsUp(t *testing.T) {
	results := make(chan error, 1)
	_, url := startServer(t, testConfig(), func(ctx context.Context, c *Call) {
		<-time.After(500 * time.Millisecond)
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		results <- c.Leg.Hangup(hctx)
		select {
		case <-c.Leg.Done():
		default:
			results <- errors.New("leg not done after hangup")
		}
	})
	c := dialCall(t, url, "PCMA", "PCMU")
	if ans := c.waitAnswer(); !strings.Contains(ans.SDP, "PCMU/8000") {
		t.Errorf("server did not prefer PCMU:\n%s", ans.SDP)
	}
	if m := c.next(5 * time.Second); m.Type != TypeHangup || m.Reason != "hangup" {
		t.Errorf("got %+v, want hangup", m)
	}
	if m := c.next(5 * time.Second); m.Type != "closed" || m.Code != "1000" {
		t.Errorf("got %+v, want close 1000", m)
	}
	if err := <-results; err != nil {
		t.Error(err)
	}
}

func TestPCMAWhenThatIsAllThePageHas(t *testing.T) {
	results := make(chan callResult, 1)
	_, url := startServer(t, testConfig(), listenAndSpeak(results, time.Second))
	c := dialCall(t, url, "PCMA")
	if ans := c.waitAnswer(); !strings.Contains(ans.SDP, "PCMA/8000") {
		t.Errorf("answer:\n%s", ans.SDP)
	}
	c.waitConnected(5 * time.Second)
	c.send(Message{Type: TypeHangup})
	if r := waitResult(t, results); r.call.Codec != "PCMA" {
		t.Errorf("codec %s", r.call.Codec)
	}
}

func TestDigitsBySignaling(t *testing.T) {
	got := make(chan string, 1)
	_, url := startServer(t, testConfig(), func(ctx context.Context, c *Call) {
		var keys []byte
		for len(keys) < 3 {
			select {
			case d := <-c.Leg.Digits():
				keys = append(keys, byte(d))
			case <-ctx.Done():
				got <- string(keys)
				return
			}
		}
		got <- string(keys)
	})
	c := dialCall(t, url)
	c.waitAnswer()
	c.send(Message{Type: TypeDTMF, Digits: "1*#"})
	select {
	case k := <-got:
		if k != "1*#" {
			t.Errorf("keys %q", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keys")
	}
}

func TestBadMessagesGetErrorsThenTheSocketCloses(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 4096
	cfg.MaxErrors = 5
	_, url := startServer(t, cfg, func(context.Context, *Call) {})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	c := newTestClient(t, ws)
	bad := []struct {
		typ  int
		body string
		code string
	}{
		{websocket.TextMessage, `{"v":1,"type":"offer"`, CodeBadMessage},
		{websocket.TextMessage, `{"v":1,"type":"teleport"}`, CodeUnknownType},
		{websocket.TextMessage, `{"v":2,"type":"ping"}`, CodeBadVersion},
		{websocket.TextMessage, `{"v":1,"type":"ping","evil":true}`, CodeBadMessage},
		{websocket.TextMessage, `{"v":1,"type":"dtmf","digits":"` + strings.Repeat("1", 5000) + `"}`, CodeTooBig},
	}
	for i, b := range bad[:4] {
		c.sendRaw(b.typ, []byte(b.body))
		if m := c.next(2 * time.Second); m.Type != TypeError || m.Code != b.code {
			t.Errorf("message %d: got %+v, want error %s", i, m, b.code)
		}
	}
	// A good message between bad ones is answered normally.
	c.send(Message{Type: TypePing})
	if m := c.next(2 * time.Second); m.Type != TypePong {
		t.Errorf("ping got %+v", m)
	}
	c.sendRaw(bad[4].typ, []byte(bad[4].body))
	if m := c.next(2 * time.Second); m.Type != TypeError || m.Code != CodeTooBig {
		t.Errorf("oversized: got %+v", m)
	}
	if m := c.next(2 * time.Second); m.Type != "closed" || m.Code != "1008" {
		t.Errorf("after %d errors got %+v, want close 1008", cfg.MaxErrors, m)
	}
}

func TestStateAndRateErrors(t *testing.T) {
	cfg := testConfig()
	cfg.MessageRate, cfg.MessageBurst = 1, 3
	cfg.MaxErrors = 10
	_, url := startServer(t, cfg, func(context.Context, *Call) {})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	c := newTestClient(t, ws)
	c.send(Message{Type: TypeDTMF, Digits: "1"})
	if m := c.next(2 * time.Second); m.Code != CodeBadState {
		t.Errorf("dtmf before offer: %+v", m)
	}
	c.send(Message{Type: TypeResume, Session: "wrtc-nope", Token: "x"})
	if m := c.next(2 * time.Second); m.Code != CodeNoSession {
		t.Errorf("resume of nothing: %+v", m)
	}
	c.send(Message{Type: TypePing})
	if m := c.next(2 * time.Second); m.Type != TypePong {
		t.Errorf("third message: %+v", m)
	}
	c.send(Message{Type: TypePing})
	if m := c.next(2 * time.Second); m.Code != CodeRateLimited {
		t.Errorf("fourth message in a second: %+v", m)
	}
}

func TestOfferTimeoutClosesTheSocket(t *testing.T) {
	cfg := testConfig()
	cfg.OfferTimeout = 300 * time.Millisecond
	_, url := startServer(t, cfg, func(context.Context, *Call) {})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	c := newTestClient(t, ws)
	if m := c.next(3 * time.Second); m.Type != "closed" || m.Code != "1008" {
		t.Errorf("got %+v, want close 1008", m)
	}
}

func TestCallRateLimitPerAddress(t *testing.T) {
	cfg := testConfig()
	cfg.CallRate, cfg.CallBurst = 0.01, 2
	_, url := startServer(t, cfg, func(context.Context, *Call) {})
	for i := range 2 {
		if code := dialHTTP(t, url, nil); code != http.StatusSwitchingProtocols {
			t.Fatalf("dial %d: %d", i, code)
		}
	}
	if code := dialHTTP(t, url, nil); code != http.StatusTooManyRequests {
		t.Errorf("third dial: %d, want 429", code)
	}
}

func TestOriginAndAuthentication(t *testing.T) {
	cfg := testConfig()
	cfg.AllowedOrigins = []string{"https://hotline.example"}
	_, url := startServer(t, cfg, func(context.Context, *Call) {}, WithAuthenticator(func(r *http.Request) (Identity, error) {
		if r.URL.Query().Get("token") != "secret" {
			return Identity{}, errors.New("bad token")
		}
		return Identity{Subject: "agent-7"}, nil
	}))
	if code := dialHTTP(t, url, nil); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	bad := http.Header{"Origin": {"https://evil.example"}}
	if code := dialHTTP(t, url+"?token=secret", bad); code != http.StatusForbidden {
		t.Errorf("foreign origin: %d", code)
	}
	good := http.Header{"Origin": {"https://hotline.example"}}
	if code := dialHTTP(t, url+"?token=secret", good); code != http.StatusSwitchingProtocols {
		t.Errorf("allowed origin: %d", code)
	}
}

func TestSameOriginByDefault(t *testing.T) {
	_, url := startServer(t, testConfig(), func(context.Context, *Call) {})
	host := strings.TrimPrefix(strings.Split(url, "/ws/")[0], "ws://")
	if code := dialHTTP(t, url, http.Header{"Origin": {"http://" + host}}); code != http.StatusSwitchingProtocols {
		t.Errorf("same origin: %d", code)
	}
	if code := dialHTTP(t, url, http.Header{"Origin": {"http://other.example"}}); code != http.StatusForbidden {
		t.Errorf("other origin: %d", code)
	}
}

func TestResumeAfterTheSocketDrops(t *testing.T) {
	results := make(chan callResult, 1)
	_, url := startServer(t, testConfig(), listenAndSpeak(results, 0))
	c := dialCall(t, url)
	ans := c.waitAnswer()
	c.waitConnected(5 * time.Second)
	c.closeSocket()
	time.Sleep(200 * time.Millisecond)

	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	c2 := newTestClient(t, ws)
	c2.send(Message{Type: TypeResume, Session: ans.Session, Token: strings.Repeat("0", 32)})
	if m := c2.next(2 * time.Second); m.Code != CodeNoSession {
		t.Errorf("wrong token: %+v", m)
	}
	c2.send(Message{Type: TypeResume, Session: ans.Session, Token: ans.Token})
	if m := c2.next(2 * time.Second); m.Type != TypeResumed || m.Session != ans.Session {
		t.Fatalf("resume: %+v", m)
	}
	// Still up after the window would have run out.
	time.Sleep(testConfig().ResumeWindow + 500*time.Millisecond)
	select {
	case r := <-results:
		t.Fatalf("call ended while resumed: %v", r.cause)
	default:
	}
	c2.send(Message{Type: TypeHangup})
	if r := waitResult(t, results); !errors.Is(r.cause, ErrRemoteHangup) {
		t.Errorf("cause %v", r.cause)
	}
}

func TestCallEndsWhenTheSocketIsNotResumed(t *testing.T) {
	results := make(chan callResult, 1)
	cfg := testConfig()
	cfg.ResumeWindow = 300 * time.Millisecond
	_, url := startServer(t, cfg, listenAndSpeak(results, 0))
	c := dialCall(t, url)
	c.waitAnswer()
	c.closeSocket()
	if r := waitResult(t, results); !errors.Is(r.cause, ErrSignalingLost) {
		t.Errorf("cause %v", r.cause)
	}
}

func TestShutdownEndsCalls(t *testing.T) {
	results := make(chan callResult, 2)
	s, url := startServer(t, testConfig(), listenAndSpeak(results, 0))
	c1, c2 := dialCall(t, url), dialCall(t, url)
	c1.waitAnswer()
	c2.waitAnswer()
	idle, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	ci := newTestClient(t, idle)
	for s.Calls() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, s.Shutdown(ctx))
	for range 2 {
		if r := waitResult(t, results); !errors.Is(r.cause, ErrShutdown) {
			t.Errorf("cause %v", r.cause)
		}
	}
	for _, c := range []*testClient{c1, c2} {
		if m := c.next(2 * time.Second); m.Type != TypeHangup || m.Reason != "shutdown" {
			t.Errorf("got %+v", m)
		}
	}
	if m := ci.next(2 * time.Second); m.Type != "closed" || m.Code != "1001" {
		t.Errorf("idle socket got %+v", m)
	}
	if code := dialHTTP(t, url, nil); code != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %d", code)
	}
}

func TestOfferWithoutG711IsRefused(t *testing.T) {
	_, url := startServer(t, testConfig(), func(context.Context, *Call) {})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	c := newTestClient(t, ws)
	opusOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	c.send(Message{Type: TypeOffer, SDP: opusOnly})
	if m := c.next(2 * time.Second); m.Code != CodeFailed || !strings.Contains(m.Message, "PCMU") {
		t.Errorf("got %+v", m)
	}
}
