// Package sip is Hotline's SIP transport: it answers calls from trunks and
// IP phones, registers agents' phones (registrar.go), places calls to them
// or through a trunk (Dial, outbound.go) and transfers calls with REFER
// (refer.go); every answered call, either way, is a media.Leg.
//
// It is built directly on sipgo's transport and transaction layers with a
// small dialog layer of its own (dialog.go) rather than sipgo's
// DialogServerSession, for three reasons: sipgo's 2xx retransmission loop
// never gives up when the ACK is missing (it re-arms time.After every
// iteration), it has no hook for an SDP answer in the ACK (late offer), and
// it does not handle re-INVITEs. The dialog layer keys dialogs by Call-ID and
// both tags, retransmits our 2xx from T1 doubling to T2 until the ACK comes
// or 64*T1 passes (then sends BYE), takes answers from ACKs, serves
// re-INVITE and UPDATE (hold, resume, session refresh), and sends in-dialog
// requests (BYE) through sipgo's client transactions.
package sip

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/hotline-cc/hotline/media"
)

// Handler serves one answered call. ctx is done when the call ends: BYE
// from the far end, RTP timeout, Hangup, or server shutdown. When Handler
// returns and the call is still up, Hotline hangs up with BYE. A Handler
// must return soon after ctx is done; Shutdown and Close wait for it.
type Handler func(ctx context.Context, call *Call)

// Party is one end of a call as named in the From or To header.
type Party struct {
	// User is the user part of the URI: a number or an extension.
	User string
	// DisplayName is the quoted name before the URI, often empty.
	DisplayName string
}

// Call is an answered inbound call.
type Call struct {
	// Leg is the caller's audio: 20 ms frames of 8 kHz PCM, DTMF digits,
	// hang-up. Its ID is the SIP Call-ID.
	Leg media.Leg
	// From is the caller, To the number they dialed.
	From, To Party
	// Trunk is the name of the configured trunk the call came in on.
	Trunk string
	// RemoteAddr is the source address of the INVITE.
	RemoteAddr netip.AddrPort
	// Log carries call_id and trunk on every line.
	Log *slog.Logger

	d *dialog
}

// ID is the SIP Call-ID.
func (c *Call) ID() string { return c.d.callID }

// SendDigit sends d to the caller as an RFC 4733 telephone-event. It fails
// when the caller did not offer telephone-event or the call has ended.
func (c *Call) SendDigit(d media.Digit) error { return c.d.sendDigit(d) }
