package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	siplib "github.com/emiago/sipgo/sip"
)

// Inbound is a new call before it is answered, as a Screen sees it.
type Inbound struct {
	// From is the caller, To the number they dialed.
	From, To Party
	// User is the Request-URI's user: whom the call is for.
	User string
	// Source is where the INVITE came from.
	Source netip.AddrPort
	// Header reads the INVITE's header name; "" when it has none.
	Header func(name string) string
}

// Refusal is the final response a Screen refuses a call with.
type Refusal struct {
	Code   int
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("sip: refused: %d %s", r.Code, r.Reason) }

// Screen decides how a new call is taken before it is answered, while it
// rings; ctx ends when the caller cancels. It returns nil, nil for the
// server's Handler to answer the call after ring_time as any other; a
// Handler to answer the call at once and serve it with that Handler; or
// an error to refuse the call: a *Refusal's status, else 500.
type Screen func(ctx context.Context, in Inbound) (Handler, error)

// SetScreen makes fn screen every new call. Call it before Start.
func (s *Server) SetScreen(fn Screen) { s.screen = fn }

// screenCall runs the Screen, if any, on a ringing dialog: the handler
// to serve the call with (nil: the server's), and whether the call was
// refused (the final response sent).
func (s *Server) screenCall(d *dialog, tx siplib.ServerTransaction, req *siplib.Request, src netip.AddrPort) (Handler, bool) {
	if s.screen == nil {
		return nil, false
	}
	h, err := s.screen(d.ctx, Inbound{From: partyOf(req.From().DisplayName, req.From().Address),
		To: partyOf(req.To().DisplayName, req.To().Address), User: req.Recipient.User, Source: src,
		Header: func(name string) string { return headerValue(req, name) }})
	if err != nil {
		if d.ctx.Err() != nil {
			return nil, false // cancelled: ring sees it
		}
		var r *Refusal
		if !errors.As(err, &r) {
			r = &Refusal{Code: 500, Reason: "Server Internal Error"}
		}
		d.log.Info("call refused", "status", r.Code, "err", err)
		d.terminate(err)
		s.respond(tx, d.invite, r.Code, r.Reason)
		return nil, true
	}
	return h, false
}
