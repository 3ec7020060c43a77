package sip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// Bounds on what one fuzz input may wait for. The fuzzing engine takes a
// worker whose input runs for 10 s as hung and kills it.
const (
	// probeWait is how long we wait for the answer to the OPTIONS probe
	// before sending it again, probeTries times in all.
	probeWait  = 200 * time.Millisecond
	probeTries = 3
	// idleWait is how long the dialogs an input opened may take to go once
	// ended.
	idleWait = 500 * time.Millisecond
)

// FuzzRequest sends arbitrary datagrams to a running server. Whatever
// arrives, the server must keep answering: each input is followed by an
// OPTIONS that must get its 200, and no request may end in a panic (the
// server recovers those and answers 500, so we watch its log for them).
//
// One server serves millions of inputs, so each input must be quick and
// leave nothing behind for the next:
//   - The server logs to panicLog, which keeps nothing else. The in-memory
//     log of newTestServer grows by megabytes a second here (sipgo logs every
//     datagram it cannot parse, whole), and each time that buffer doubles
//     past a few hundred MB the copy takes seconds under the lock sipgo's UDP
//     read loop logs through, stalling the listener beyond the engine's 10 s.
//   - sipgo's timers are shortened: with T1 at 500 ms every UDP transaction
//     lives on for 64*T1 = 32 s, some 150,000 of them at full speed, and an
//     input reusing an earlier input's branch would be taken for its
//     retransmission and never reach the server.
//   - A dialog an INVITE opened is ended before the next input; otherwise
//     each one waits for an ACK that never comes, then for the BYE, holding
//     an RTP port pair until the range runs out.
func FuzzRequest(f *testing.F) {
	t1, t2, t4 := siplib.T1, siplib.T2, siplib.T4
	siplib.SetTimers(time.Millisecond, 8*time.Millisecond, 10*time.Millisecond)
	f.Cleanup(func() { siplib.SetTimers(t1, t2, t4) }) // after the server's Close below

	logs := &panicLog{}
	s, err := NewServer(testConfig(), func(context.Context, *Call) {}, slog.New(logs))
	if err != nil {
		f.Fatalf("NewServer: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		f.Fatalf("Start: %v", err)
	}
	f.Cleanup(func() {
		if err := s.Close(); err != nil {
			f.Errorf("Close: %v", err)
		}
	})
	r := newRawUA(f, s.Addr("udp"))

	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	f.Add([]byte(r.request("OPTIONS", "seed-options", "", nil)))
	f.Add([]byte(r.request("INVITE", "seed-invite", offer, nil)))
	f.Add([]byte(r.request("INVITE", "seed-bad-sdp", "v=0\r\nm=audio x\r\n", nil)))
	f.Add([]byte(r.request("BYE", "seed-bye", "", map[string]string{"To": "<sip:100@127.0.0.1>;tag=nope"})))
	f.Add([]byte(r.request("INVITE", "seed-len", offer, map[string]string{"Content-Length": "7"})))
	f.Add([]byte("\x00garbage"))

	buf := make([]byte, 65535)
	// answer reads until the response carrying id, skipping what earlier
	// inputs left in the socket; "" if none came within d.
	answer := func(id string, d time.Duration) string {
		_ = r.conn.SetReadDeadline(time.Now().Add(d))
		for {
			n, _, err := r.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return ""
			}
			if bytes.Contains(buf[:n], []byte(id)) {
				return string(buf[:n])
			}
		}
	}
	n := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		r.t = t
		r.send(string(msg))
		n++
		id := fmt.Sprintf("alive-%d-%d", time.Now().UnixNano(), n)
		probe := r.request("OPTIONS", id, "", nil)
		got := ""
		for i := 0; i < probeTries && got == ""; i++ {
			r.send(probe) // the same branch: a retransmission to the server
			got = answer(id, probeWait)
		}
		if got == "" {
			t.Fatalf("server stopped answering after %q: no answer to OPTIONS in %s", msg, probeTries*probeWait)
		}
		if !strings.HasPrefix(got, "SIP/2.0 200") {
			t.Fatalf("OPTIONS after input answered %q", firstLine(got))
		}

		// End what the input opened. An INVITE served after our snapshot
		// ends here too: the loop ends every dialog it finds until none is
		// left.
		deadline := time.Now().Add(idleWait)
		for s.Calls() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("server still holds %d dialogs %s after they were ended", s.Calls(), idleWait)
			}
			for _, d := range s.snapshot() {
				d.terminate(ErrShutdown) // before answer: 503; after: no BYE
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			s.waitIdle(ctx, nil)
			cancel()
		}
		if p := logs.take(); p != "" {
			t.Fatalf("server recovered a panic serving this input or the one before:\n%s", p)
		}
	})
}

// panicLog is a slog.Handler that drops everything but the first panic the
// server logged.
type panicLog struct {
	mu    sync.Mutex
	first string
}

func (l *panicLog) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelError
}

func (l *panicLog) Handle(_ context.Context, rec slog.Record) error {
	if !strings.HasPrefix(rec.Message, "panic") {
		return nil
	}
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, "\n%s: %v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first == "" {
		l.first = b.String()
	}
	return nil
}

func (l *panicLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *panicLog) WithGroup(string) slog.Handler      { return l }

// take returns the panic logged so far, if any, and forgets it.
func (l *panicLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.first
	l.first = ""
	return p
}
