package webrtc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeMessage(t *testing.T) {
	good := []string{
		`{"v":1,"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}`,
		`{"v":1,"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
		`{"v":1,"type":"dtmf","digits":"0123456789*#ABCD"}`,
		`{"v":1,"type":"hangup"}`,
		`{"v":1,"type":"hangup","reason":"caller left"}`,
		`{"v":1,"type":"ping"}`,
		`{"v":1,"type":"resume","session":"wrtc-1","token":"abc"}`,
	}
	for _, g := range good {
		if _, err := DecodeMessage([]byte(g)); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
	bad := map[string]string{
		`nope`:                                    CodeBadMessage,
		`{"v":1,"type":"ping"} {}`:                CodeBadMessage,
		`{"v":1}`:                                 CodeBadMessage,
		`{"type":"ping"}`:                         CodeBadVersion,
		`{"v":1,"type":"answer","sdp":"v=0"}`:     CodeUnknownType,
		`{"v":1,"type":"offer"}`:                  CodeBadMessage,
		`{"v":1,"type":"offer","sdp":"hello"}`:    CodeBadMessage,
		`{"v":1,"type":"ping","digits":"1"}`:      CodeBadMessage,
		`{"v":1,"type":"ping","extra":1}`:         CodeBadMessage,
		`{"v":1,"type":"dtmf","digits":"12x"}`:    CodeBadMessage,
		`{"v":1,"type":"hangup","reason":"a\nb"}`: CodeBadMessage,
		`{"v":1,"type":"resume","session":"s"}`:   CodeBadMessage,
		`{"v":1,"type":"candidate","candidate":{"candidate":"a=candidate:1"}}`: CodeBadMessage,
		`{"v":1,"type":"candidate","candidate":{"candidate":"","bogus":1}}`:    CodeBadMessage,
		`{"v":1,"type":"dtmf","digits":"` + strings.Repeat("1", 33) + `"}`:     CodeBadMessage,
	}
	for in, code := range bad {
		_, err := DecodeMessage([]byte(in))
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("%s: got %v, want %s", in, err, code)
		}
	}
}

// FuzzDecodeMessage: the decoder never panics, refuses with a
// ProtocolError, and what it accepts survives a round trip unchanged.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"offer","sdp":"v=0\r\n"}`,
		`{"v":1,"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"v":1,"type":"dtmf","digits":"1#"}`,
		`{"v":1,"type":"hangup","reason":"bye"}`,
		`{"v":1,"type":"resume","session":"wrtc-1","token":"t"}`,
		`{"v":1,"type":"ping"}`,
		`{"v":1,"type":"ping","v":2}`,
		`[1,2]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error %v is not a ProtocolError", err)
			}
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeMessage(out)
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", out, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
	})
}
