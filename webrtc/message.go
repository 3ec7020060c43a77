package webrtc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hotline-cc/hotline/media"
)

// Version is the signaling schema version every message carries in "v".
const Version = 1

// Message types. The page sends offer, candidate, dtmf, hangup, ping and
// resume; the server sends answer, candidate, hangup, error, pong and
// resumed. An agent's phone (the /ws/agent socket) also gets registered,
// incoming and cancel, and sends accept and reject.
const (
	TypeOffer     = "offer"     // page: the SDP offer, which starts the call
	TypeAnswer    = "answer"    // server: the SDP answer, the session and its resume token
	TypeCandidate = "candidate" // both: one trickled ICE candidate
	TypeDTMF      = "dtmf"      // page: keys pressed, when RTP telephone-event is not used
	TypeHangup    = "hangup"    // both: the call is over, with a reason
	TypePing      = "ping"      // page: keep-alive the page can see; answered with pong
	TypePong      = "pong"      // server: the answer to ping
	TypeResume    = "resume"    // page: take up a call again after the socket dropped
	TypeResumed   = "resumed"   // server: the call is attached to this socket
	TypeError     = "error"     // server: the last message was refused, with a code

	TypeRegistered = "registered" // server: the agent's browser phone takes calls
	TypeIncoming   = "incoming"   // server: a call rings: call, from, queue, summary
	TypeAccept     = "accept"     // page: the agent takes the call that rings; an offer follows
	TypeReject     = "reject"     // page: the agent declines the call that rings
	TypeCancel     = "cancel"     // server: the ring ended before an accept, with a reason
)

// Message is one signaling message, as JSON text in one WebSocket frame.
// Which fields a type allows is fixed: a field another type uses is an
// error, and so is a field no type knows.
type Message struct {
	V         int        `json:"v"`
	Type      string     `json:"type"`
	SDP       string     `json:"sdp,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`
	Digits    string     `json:"digits,omitempty"`
	Session   string     `json:"session,omitempty"`
	Token     string     `json:"token,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Code      string     `json:"code,omitempty"`
	Message   string     `json:"message,omitempty"`
	// Call names the caller's call a ring is for (incoming, accept,
	// reject, cancel); From, Queue and Summary tell the agent about it.
	Call    string `json:"call,omitempty"`
	From    string `json:"from,omitempty"`
	Queue   string `json:"queue,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// Candidate is an ICE candidate as the browser's RTCIceCandidate.toJSON()
// writes it.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Error codes sent in error messages.
const (
	CodeBadMessage  = "bad_message"  // not JSON, or fields that do not fit the type
	CodeBadVersion  = "bad_version"  // "v" is not 1
	CodeUnknownType = "unknown_type" // a type the server does not take
	CodeTooBig      = "too_big"      // over max_message_bytes
	CodeRateLimited = "rate_limited" // more messages than message_rate allows
	CodeBadState    = "bad_state"    // a valid message at the wrong time (a second offer)
	CodeNoSession   = "no_session"   // resume of a session that is not waiting
	CodeFailed      = "failed"       // the server could not set up the call
)

// Limits of single fields, well above what browsers write.
const (
	maxSDPBytes       = 30 << 10
	maxCandidateBytes = 1024
	maxDigits         = 32
	maxReasonBytes    = 128
	maxTokenBytes     = 128
)

// ProtocolError is a refused message; Code goes back to the page.
type ProtocolError struct {
	Code   string
	Detail string
}

func (e *ProtocolError) Error() string { return "webrtc: " + e.Code + ": " + e.Detail }

func protoErr(code, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// DecodeMessage parses and validates one message from the page. The error
// is always a *ProtocolError.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, protoErr(CodeBadMessage, "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Message{}, protoErr(CodeBadMessage, "data after the message")
	}
	if m.V != Version {
		return Message{}, protoErr(CodeBadVersion, "version %d, want %d", m.V, Version)
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// fieldSet names the optional fields a message has, to check them against
// what its type allows.
type fieldSet uint16

const (
	fSDP fieldSet = 1 << iota
	fCandidate
	fDigits
	fSession
	fToken
	fReason
	fCode
	fMessage
	fCall
	fFrom
	fQueue
	fSummary
)

func (m *Message) fields() fieldSet {
	var f fieldSet
	for _, x := range []struct {
		set bool
		bit fieldSet
	}{
		{m.SDP != "", fSDP}, {m.Candidate != nil, fCandidate}, {m.Digits != "", fDigits},
		{m.Session != "", fSession}, {m.Token != "", fToken}, {m.Reason != "", fReason},
		{m.Code != "", fCode}, {m.Message != "", fMessage}, {m.Call != "", fCall},
		{m.From != "", fFrom}, {m.Queue != "", fQueue}, {m.Summary != "", fSummary},
	} {
		if x.set {
			f |= x.bit
		}
	}
	return f
}

// validate checks a message from the page: its type, that it has the
// fields it needs and none it may not have, and their contents.
func (m *Message) validate() error {
	var need, allow fieldSet
	switch m.Type {
	case TypeOffer:
		need = fSDP
	case TypeCandidate:
		need = fCandidate
	case TypeDTMF:
		need = fDigits
	case TypeHangup:
		allow = fReason
	case TypePing:
	case TypeResume:
		need = fSession | fToken
	case TypeAccept:
		need = fCall
	case TypeReject:
		need, allow = fCall, fReason
	case "":
		return protoErr(CodeBadMessage, "no type")
	default:
		return protoErr(CodeUnknownType, "type %.32q", m.Type)
	}
	have := m.fields()
	if missing := need &^ have; missing != 0 {
		return protoErr(CodeBadMessage, "%s needs %s", m.Type, missing)
	}
	if extra := have &^ (need | allow); extra != 0 {
		return protoErr(CodeBadMessage, "%s takes no %s", m.Type, extra)
	}
	switch {
	case len(m.SDP) > maxSDPBytes:
		return protoErr(CodeBadMessage, "sdp of %d bytes", len(m.SDP))
	case m.SDP != "" && !strings.HasPrefix(m.SDP, "v=0"):
		return protoErr(CodeBadMessage, "sdp does not start with v=0")
	case len(m.Reason) > maxReasonBytes || !printable(m.Reason):
		return protoErr(CodeBadMessage, "reason is too long or not printable")
	case len(m.Session) > maxTokenBytes || len(m.Token) > maxTokenBytes || len(m.Call) > maxTokenBytes ||
		!printable(m.Session) || !printable(m.Token) || !printable(m.Call):
		return protoErr(CodeBadMessage, "session, token or call is too long or not printable")
	}
	if m.Candidate != nil {
		c := m.Candidate
		if len(c.Candidate) > maxCandidateBytes || (c.Candidate != "" && !strings.HasPrefix(c.Candidate, "candidate:")) {
			return protoErr(CodeBadMessage, "candidate is not an a=candidate value")
		}
		if (c.SDPMid != nil && len(*c.SDPMid) > 32) || (c.UsernameFragment != nil && len(*c.UsernameFragment) > 256) {
			return protoErr(CodeBadMessage, "candidate sdpMid or usernameFragment too long")
		}
	}
	if m.Digits != "" {
		if len(m.Digits) > maxDigits {
			return protoErr(CodeBadMessage, "more than %d digits", maxDigits)
		}
		for i := range len(m.Digits) {
			if !media.Digit(m.Digits[i]).Valid() {
				return protoErr(CodeBadMessage, "%q is not a DTMF key", m.Digits[i])
			}
		}
	}
	return nil
}

func (f fieldSet) String() string {
	names := []string{"sdp", "candidate", "digits", "session", "token", "reason", "code", "message", "call", "from", "queue", "summary"}
	var out []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// printable reports whether s is plain printable ASCII, so it can go into
// logs as it is.
func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
