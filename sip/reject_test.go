package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// answerCode waits for the final answer to sess and returns its status.
func answerCode(t *testing.T, ctx context.Context, sess *sipgo.DialogClientSession, opts sipgo.AnswerOptions) *siplib.Response {
	t.Helper()
	err := sess.WaitAnswer(ctx, opts)
	var de *sipgo.ErrDialogResponse
	switch {
	case err == nil:
		return sess.InviteResponse
	case errors.As(err, &de):
		return de.Res
	default:
		t.Fatalf("wait answer: %v", err)
		return nil
	}
}

func neverCalled(calls *atomic.Int32) Handler {
	return func(ctx context.Context, call *Call) { calls.Add(1) }
}

// freePortPair finds an even UDP port whose successor is also free.
func freePortPair(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		a, err1 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		b, err2 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		if err1 == nil && err2 == nil && p >= 1024 {
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// TestCancelBeforeAnswer: CANCEL while ringing gets 200, the INVITE 487,
// the handler never runs and the RTP ports come back: with a range of one
// port pair, a second call can ring (not 503) after the first is canceled.
func TestCancelBeforeAnswer(t *testing.T) {
	var calls atomic.Int32
	cfg := testConfig()
	p := freePortPair(t)
	cfg.RTPPortMin, cfg.RTPPortMax = p, p+1
	s := newTestServer(t, cfg, neverCalled(&calls), func(s *Server) { s.ringTime = 10 * time.Second })
	c := newCaller(t, "udp")
	ph := newPhone(t)
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sess := c.invite(ctx, s, "100", ph.offer())
		ringCtx, hangUp := context.WithCancel(ctx)
		var codes []int
		err := sess.WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: func(r *siplib.Response) error {
			codes = append(codes, r.StatusCode)
			if r.StatusCode == 180 {
				hangUp()
			}
			return nil
		}})
		hangUp()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("call %d: wait answer = %v (codes %v), want canceled", i, err, codes)
		}
		if sess.InviteResponse == nil || sess.InviteResponse.StatusCode != 487 {
			t.Fatalf("call %d: final response %v (codes %v), want 487", i, sess.InviteResponse, codes)
		}
		within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the canceled call to be released")
		cancel()
	}
	if calls.Load() != 0 {
		t.Errorf("handler ran %d times for canceled calls", calls.Load())
	}
}

func TestOptions(t *testing.T) {
	var calls atomic.Int32
	s := newTestServer(t, testConfig(), neverCalled(&calls))
	for _, transport := range []string{"udp", "tcp"} {
		c := newCaller(t, transport)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res := c.do(ctx, siplib.NewRequest(siplib.OPTIONS, c.uri(s, "")))
		cancel()
		if res.StatusCode != 200 {
			t.Fatalf("%s: OPTIONS = %d", transport, res.StatusCode)
		}
		if a := headerValue(res, "Allow"); !strings.Contains(a, "INVITE") || !strings.Contains(a, "BYE") {
			t.Errorf("Allow = %q", a)
		}
		if a := headerValue(res, "Accept"); a != "application/sdp" {
			t.Errorf("Accept = %q", a)
		}
	}
	if s.Calls() != 0 {
		t.Error("OPTIONS created a dialog")
	}
}

// TestUnknownDialog: requests for a dialog we do not have get 481.
func TestUnknownDialog(t *testing.T) {
	var calls atomic.Int32
	s := newTestServer(t, testConfig(), neverCalled(&calls))
	c := newCaller(t, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range []siplib.RequestMethod{siplib.BYE, siplib.INVITE, siplib.INFO, siplib.UPDATE, siplib.OPTIONS, siplib.CANCEL} {
		req := siplib.NewRequest(m, c.uri(s, "100"))
		to := &siplib.ToHeader{Address: c.uri(s, "100"), Params: siplib.NewParams()}
		to.Params.Add("tag", "nosuchdialog")
		req.AppendHeader(to)
		if m == siplib.INVITE {
			req.AppendHeader(&siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5999}})
		}
		if res := c.do(ctx, req); res.StatusCode != 481 {
			t.Errorf("%s in unknown dialog = %d, want 481", m, res.StatusCode)
		}
	}
	// Out of dialog, a method we do not serve is 405 with Allow; an
	// extension we do not support is 420.
	res := c.do(ctx, siplib.NewRequest(siplib.MESSAGE, c.uri(s, "100")))
	if res.StatusCode != 405 || headerValue(res, "Allow") == "" {
		t.Errorf("MESSAGE = %d, Allow %q", res.StatusCode, headerValue(res, "Allow"))
	}
	req := siplib.NewRequest(siplib.OPTIONS, c.uri(s, "100"))
	req.AppendHeader(siplib.NewHeader("Require", "100rel, precondition"))
	if res := c.do(ctx, req); res.StatusCode != 420 || headerValue(res, "Unsupported") != "100rel, precondition" {
		t.Errorf("Require 100rel = %d, Unsupported %q", res.StatusCode, headerValue(res, "Unsupported"))
	}
}

// TestForbiddenSource: a trunk allowing only 127.0.0.2 refuses 127.0.0.1
// with 403, cheaply: no dialog, no ports, one log line per source.
func TestForbiddenSource(t *testing.T) {
	var calls atomic.Int32
	cfg := testConfig()
	cfg.Trunks = []TrunkConfig{{Name: "carrier", Allow: []string{"127.0.0.2"}}}
	s := newTestServer(t, cfg, neverCalled(&calls))
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := answerCode(t, ctx, c.invite(ctx, s, "100", p.offer()), sipgo.AnswerOptions{})
	if res.StatusCode != 403 {
		t.Fatalf("INVITE from an unlisted source = %d, want 403", res.StatusCode)
	}
	for range 3 {
		if res := c.do(ctx, siplib.NewRequest(siplib.OPTIONS, c.uri(s, ""))); res.StatusCode != 403 {
			t.Fatalf("OPTIONS from an unlisted source = %d, want 403", res.StatusCode)
		}
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "no trunk allows"); n != 1 {
		t.Errorf("%d log lines for one source, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs, "incoming call") || s.Calls() != 0 {
		t.Error("a refused source got a dialog")
	}

	// The listed source is served.
	c2 := newCaller(t, "udp", "127.0.0.2")
	if res := c2.do(ctx, siplib.NewRequest(siplib.OPTIONS, c2.uri(s, ""))); res.StatusCode != 200 {
		t.Fatalf("OPTIONS from the listed source = %d", res.StatusCode)
	}
}

// TestDigestAuth: a trunk with credentials challenges with 401, accepts the
// right password, refuses a wrong one, marks an expired nonce stale, and
// never logs the password or the Authorization value.
func TestDigestAuth(t *testing.T) {
	const password = "s3cret-Pa55"
	t.Setenv("HOTLINE_TEST_SIP_PASSWORD", password)
	cfg := testConfig()
	cfg.Trunks = []TrunkConfig{{Name: "pbx", Allow: []string{"127.0.0.0/8"}, Username: "alice",
		PasswordEnv: "HOTLINE_TEST_SIP_PASSWORD", Realm: "hotline.test"}}
	answered := make(chan string, 1)
	s := newTestServer(t, cfg, func(ctx context.Context, call *Call) { answered <- call.Trunk })
	c := newCaller(t, "udp")
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var challenge string
	sess := c.invite(ctx, s, "100", p.offer())
	res := answerCode(t, ctx, sess, sipgo.AnswerOptions{Username: "alice", Password: password,
		OnResponse: func(r *siplib.Response) error {
			if r.StatusCode == 401 {
				challenge = headerValue(r, "WWW-Authenticate")
			}
			return nil
		}})
	if res.StatusCode != 200 {
		t.Fatalf("right password: %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	if chal.Realm != "hotline.test" || chal.Nonce == "" || !chal.SupportsQOP("auth") || chal.Stale {
		t.Errorf("challenge = %+v", chal)
	}
	_ = sess.Ack(ctx)
	if got := <-answered; got != "pbx" {
		t.Errorf("trunk %q", got)
	}
	c.waitBye(5 * time.Second)

	// Wrong password: challenged again, refused.
	sess = c.invite(ctx, s, "100", p.offer())
	if res := answerCode(t, ctx, sess, sipgo.AnswerOptions{Username: "alice", Password: "guess"}); res.StatusCode != 401 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	// No credentials at all.
	if res := answerCode(t, ctx, c.invite(ctx, s, "100", p.offer()), sipgo.AnswerOptions{}); res.StatusCode != 401 {
		t.Fatalf("no credentials: %d", res.StatusCode)
	}

	// A right answer to an expired nonce: 401 with stale=true.
	auth := s.trunks[0].auth
	old := &digest.Challenge{Realm: "hotline.test", Nonce: auth.nonce(time.Now().Add(-2 * nonceTTL)), Algorithm: "MD5", QOP: []string{"auth"}}
	uri := c.uri(s, "100")
	cred, err := digest.Digest(old, digest.Options{Method: "INVITE", URI: uri.Addr(), Username: "alice", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	req := siplib.NewRequest(siplib.INVITE, uri)
	req.AppendHeader(&siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5999}})
	req.AppendHeader(siplib.NewHeader("Authorization", cred.String()))
	res = c.do(ctx, req)
	stale, err := digest.ParseChallenge(headerValue(res, "WWW-Authenticate"))
	if res.StatusCode != 401 || err != nil || !stale.Stale {
		t.Fatalf("expired nonce: %d %q", res.StatusCode, headerValue(res, "WWW-Authenticate"))
	}

	logs := s.logs.String()
	if !strings.Contains(logs, "digest authentication failed") || !strings.Contains(logs, "username=alice") {
		t.Errorf("failed authentication not logged:\n%s", logs)
	}
	for _, secret := range []string{password, cred.Response, "response=", "Digest username"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestNotAcceptable: offers we cannot serve get 488 with a Warning saying
// why; a body that is not SDP gets 415.
func TestNotAcceptable(t *testing.T) {
	var calls atomic.Int32
	s := newTestServer(t, testConfig(), neverCalled(&calls))
	c := newCaller(t, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, tc := range map[string]struct {
		body []byte
		code int
		warn string
	}{
		"malformed":       {[]byte("v=0\r\nthis is not sdp\r\n"), 488, "malformed sdp"},
		"codec mismatch":  {offerSDP("m=audio 4000 RTP/AVP 18", "a=rtpmap:18 G729/8000"), 488, "no common codec"},
		"srtp only":       {offerSDP("m=audio 4000 RTP/SAVP 0"), 488, "unsupported transport"},
		"no audio stream": {offerSDP("m=video 4000 RTP/AVP 96"), 488, "no audio stream"},
	} {
		res := answerCode(t, ctx, c.invite(ctx, s, "100", tc.body), sipgo.AnswerOptions{})
		if res.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", name, res.StatusCode, tc.code)
			continue
		}
		if w := headerValue(res, "Warning"); !strings.HasPrefix(w, `399 Hotline "`) || !strings.Contains(w, tc.warn) {
			t.Errorf("%s: Warning %q, want 399 mentioning %q", name, w, tc.warn)
		}
	}
	req := siplib.NewRequest(siplib.INVITE, c.uri(s, "100"))
	req.AppendHeader(&siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5999}})
	req.AppendHeader(siplib.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte("hello"))
	if res := c.do(ctx, req); res.StatusCode != 415 || headerValue(res, "Accept") != "application/sdp" {
		t.Errorf("text/plain body: %d Accept %q", res.StatusCode, headerValue(res, "Accept"))
	}
	if calls.Load() != 0 || s.Calls() != 0 {
		t.Error("a refused offer made a call")
	}
}

// rawUA speaks SIP over a bare UDP socket, to send what sipgo would not.
type rawUA struct {
	t    testing.TB
	conn *net.UDPConn
	to   netip.AddrPort
}

func newRawUA(t testing.TB, to netip.AddrPort) *rawUA {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawUA{t: t, conn: conn, to: to}
}

func (r *rawUA) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *rawUA) send(msg string) {
	r.t.Helper()
	if _, err := r.conn.WriteToUDPAddrPort([]byte(msg), r.to); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next message, or "" after timeout.
func (r *rawUA) read(timeout time.Duration) string {
	buf := make([]byte, 65535)
	_ = r.conn.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := r.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// request renders a request; headers maps name to value, "" drops a
// default header.
func (r *rawUA) request(method, callID string, body string, headers map[string]string) string {
	h := map[string]string{
		"Via":          fmt.Sprintf("SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d;rport", r.port(), callID, time.Now().UnixNano()),
		"Max-Forwards": "70",
		"From":         "<sip:raw@127.0.0.1>;tag=rawtag",
		"To":           "<sip:100@127.0.0.1>",
		"Call-ID":      callID,
		"CSeq":         "1 " + method,
		"Contact":      fmt.Sprintf("<sip:raw@127.0.0.1:%d>", r.port()),
	}
	if body != "" {
		h["Content-Type"] = "application/sdp"
	}
	for k, v := range headers {
		h[k] = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:100@%s SIP/2.0\r\n", method, r.to)
	for _, k := range []string{"Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Type", "Authorization"} {
		if v := h[k]; v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	cl := fmt.Sprint(len(body))
	if v, ok := h["Content-Length"]; ok {
		cl = v
	}
	fmt.Fprintf(&b, "Content-Length: %s\r\n\r\n%s", cl, body)
	return b.String()
}

// reply answers a request received raw with 200 OK.
func (r *rawUA) reply(req string) {
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	var b strings.Builder
	b.WriteString("SIP/2.0 200 OK\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "from", "to", "call-id", "cseq":
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	r.send(b.String())
}

// TestMalformedRequests: what gets through sipgo's parser but lacks what
// a request needs is answered 400 with a log line; garbage is dropped; the
// server keeps serving.
func TestMalformedRequests(t *testing.T) {
	var calls atomic.Int32
	s := newTestServer(t, testConfig(), neverCalled(&calls))
	r := newRawUA(t, s.Addr("udp"))
	for name, tc := range map[string]struct {
		method  string
		headers map[string]string
		want    string
	}{
		"no Call-ID":          {"INVITE", map[string]string{"Call-ID": ""}, "SIP/2.0 400"},
		"no From":             {"OPTIONS", map[string]string{"From": ""}, "SIP/2.0 400"},
		"no To":               {"OPTIONS", map[string]string{"To": ""}, "SIP/2.0 400"},
		"CSeq method differs": {"INVITE", map[string]string{"CSeq": "1 BYE"}, "SIP/2.0 400"},
		"INVITE no Contact":   {"INVITE", map[string]string{"Contact": ""}, "SIP/2.0 400"},
		"INVITE no From tag":  {"INVITE", map[string]string{"From": "<sip:raw@127.0.0.1>"}, "SIP/2.0 400"},
	} {
		r.send(r.request(tc.method, "bad-"+strings.ReplaceAll(name, " ", "-"), "", tc.headers))
		got := r.read(2 * time.Second)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want %s", name, firstLine(got), tc.want)
		}
		if tc.want == "SIP/2.0 400" && !strings.Contains(got, "Warning: 399") {
			t.Errorf("%s: 400 without a Warning saying why:\n%s", name, got)
		}
	}
	// Garbage the parser drops: no answer, no crash.
	for _, junk := range []string{
		"\x00\x01\x02garbage",
		"INVITE sip:100@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\n\r\n",
		"INVITE sip:100@127.0.0.1 SIP/2.0\r\nFrom: <<<\r\nTo: >>>\r\nCSeq: x y\r\n\r\n",
		"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n\r\n",
		r.request("INVITE", "huge-len", "", map[string]string{"Content-Length": "99999"}),
	} {
		r.send(junk)
	}
	r.send(r.request("OPTIONS", "still-alive", "", nil))
	for {
		got := r.read(2 * time.Second)
		if got == "" {
			t.Fatal("server stopped answering after malformed input")
		}
		if strings.Contains(got, "still-alive") {
			if !strings.HasPrefix(got, "SIP/2.0 200") {
				t.Fatalf("OPTIONS after junk: %q", firstLine(got))
			}
			break
		}
	}
	if logs := s.logs.String(); strings.Count(logs, "bad sip request") < 1 {
		t.Errorf("no log line for bad requests:\n%s", logs)
	}
	if calls.Load() != 0 || s.Calls() != 0 {
		t.Error("a malformed request made a call")
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// TestMissingACK: without an ACK the 200 OK is retransmitted from T1
// doubling to T2 for 64*T1, then the call is ended with BYE and the
// handler never runs.
func TestMissingACK(t *testing.T) {
	var calls atomic.Int32
	const t1, t2 = 20 * time.Millisecond, 80 * time.Millisecond
	s := newTestServer(t, testConfig(), neverCalled(&calls), func(s *Server) {
		s.t1, s.t2, s.byeTimeout = t1, t2, time.Second
	})
	r := newRawUA(t, s.Addr("udp"))
	p := newPhone(t)
	r.send(r.request("INVITE", "noack", string(p.offer()), nil))
	var oks []time.Time
	var bye string
	var byeAt time.Time
	deadline := time.Now().Add(5 * time.Second)
	for bye == "" && time.Now().Before(deadline) {
		msg := r.read(time.Second)
		switch {
		case strings.HasPrefix(msg, "SIP/2.0 200"):
			oks = append(oks, time.Now())
		case strings.HasPrefix(msg, "BYE "):
			bye, byeAt = msg, time.Now()
			r.reply(msg)
		}
	}
	if bye == "" {
		t.Fatalf("no BYE after %d unacknowledged 200s", len(oks))
	}
	if len(oks) < 6 {
		t.Fatalf("%d transmissions of the 200 OK, want the first and at least 5 more", len(oks))
	}
	var gaps []time.Duration
	for i := 1; i < len(oks); i++ {
		gaps = append(gaps, oks[i].Sub(oks[i-1]))
	}
	if gaps[0] > 3*t1 || gaps[2] < gaps[0] || gaps[len(gaps)-1] > 3*t2 {
		t.Errorf("retransmission gaps %v: want T1 doubling to T2", gaps)
	}
	if waited := byeAt.Sub(oks[0]); waited < 64*t1-10*time.Millisecond || waited > 64*t1+time.Second {
		t.Errorf("BYE after %v, want about 64*T1 = %v", waited, 64*t1)
	}
	if !strings.Contains(bye, "Call-ID: noack") || !strings.Contains(bye, "tag=rawtag") {
		t.Errorf("BYE not in the dialog:\n%s", bye)
	}
	within(t, 2*time.Second, func() bool { return s.Calls() == 0 }, "the unacknowledged call to be released")
	if calls.Load() != 0 {
		t.Error("handler ran without an ACK")
	}
}
