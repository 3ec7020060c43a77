package sip

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzRequest sends arbitrary datagrams to a running server. Whatever
// arrives, the server must keep answering: each input is followed by an
// OPTIONS that must get its 200.
func FuzzRequest(f *testing.F) {
	s := newTestServer(f, testConfig(), func(context.Context, *Call) {})
	r := newRawUA(f, s.Addr("udp"))
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	f.Add([]byte(r.request("OPTIONS", "seed-options", "", nil)))
	f.Add([]byte(r.request("INVITE", "seed-invite", offer, nil)))
	f.Add([]byte(r.request("INVITE", "seed-bad-sdp", "v=0\r\nm=audio x\r\n", nil)))
	f.Add([]byte(r.request("BYE", "seed-bye", "", map[string]string{"To": "<sip:100@127.0.0.1>;tag=nope"})))
	f.Add([]byte(r.request("INVITE", "seed-len", offer, map[string]string{"Content-Length": "7"})))
	f.Add([]byte("\x00garbage"))
	n := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		r.t = t
		r.send(string(msg))
		n++
		id := fmt.Sprintf("alive-%d-%d", time.Now().UnixNano(), n)
		r.send(r.request("OPTIONS", id, "", nil))
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			got := r.read(time.Until(deadline))
			if strings.Contains(got, id) {
				if !strings.HasPrefix(got, "SIP/2.0 200") {
					t.Fatalf("OPTIONS after input answered %q", firstLine(got))
				}
				return
			}
		}
		t.Fatalf("server stopped answering after %q", msg)
	})
}
