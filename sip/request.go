package sip

import (
	"fmt"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// allowMethods is our Allow header.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"

// onRequest is the entry for every request sipgo's transaction layer hands
// us, each on its own goroutine. It validates, applies the trunk allow
// lists and routes by method.
func (s *Server) onRequest(req *siplib.Request, tx siplib.ServerTransaction) {
	if !s.enter() {
		return // closing: let the transaction die unanswered
	}
	defer s.wg.Done()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving sip request", "method", req.Method, "panic", p, "stack", string(debug.Stack()))
			s.respond(tx, req, 500, "Server Internal Error")
		}
	}()

	src, _ := netip.ParseAddrPort(req.Source())
	src = unmapAP(src)
	if reason := malformed(req); reason != "" {
		if req.IsAck() {
			return // nothing answers an ACK
		}
		if s.limit.allow("400|"+src.Addr().String(), time.Now()) {
			s.log.Warn("bad sip request", "method", req.Method, "source", src, "reason", reason)
		}
		res := siplib.NewResponseFromRequest(req, 400, "Bad Request", nil)
		res.AppendHeader(siplib.NewHeader("Warning", fmt.Sprintf("399 %s \"%s\"", s.cfg.UserAgent, reason)))
		s.send(tx, res)
		return
	}

	// REGISTER is authenticated by the agent's credentials, wherever the
	// phone is.
	if req.Method == siplib.REGISTER && len(s.reg.accounts) > 0 {
		s.onRegister(req, tx, src)
		return
	}
	tr := matchTrunk(s.trunks, src.Addr())
	if tr == nil && !s.inOutboundDialog(req) {
		s.forbid(req, tx, src)
		return
	}
	if req.IsAck() {
		s.onAck(req)
		return
	}
	if req.Method != siplib.CANCEL {
		if ext := unsupportedRequire(req); ext != "" {
			res := siplib.NewResponseFromRequest(req, 420, "Bad Extension", nil)
			res.AppendHeader(siplib.NewHeader("Unsupported", ext))
			s.send(tx, res)
			return
		}
	}

	toTag, _ := req.To().Params.Get("tag")
	switch {
	case req.Method == siplib.INVITE && toTag == "":
		s.onInvite(req, tx, tr, src)
	case req.Method == siplib.CANCEL:
		// The transaction layer answers a CANCEL matching an INVITE in
		// progress (200, then 487 for the INVITE); one that reaches us
		// matches nothing.
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	case req.Method == siplib.OPTIONS && toTag == "":
		s.onOptions(req, tx)
	case toTag != "":
		s.inDialog(req, tx)
	default:
		res := siplib.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(siplib.NewHeader("Allow", allowMethods))
		s.send(tx, res)
	}
}

// inOutboundDialog reports whether req belongs to a call we placed: the
// agent's phone we dialed sends its BYE from wherever it is, and the
// dialog's Call-ID and tags vouch for it as the trunk does for a caller.
func (s *Server) inOutboundDialog(req *siplib.Request) bool {
	if !req.To().Params.Has("tag") {
		return false
	}
	d := s.findDialog(dialogKeyUAS(req))
	return d != nil && d.outbound
}

// malformed names what is wrong with a request that made it through
// sipgo's parser but lacks what RFC 3261 §8.1.1 requires; "" if nothing.
func malformed(req *siplib.Request) string {
	switch {
	case req.From() == nil:
		return "missing or bad From header"
	case req.To() == nil:
		return "missing or bad To header"
	case req.CallID() == nil || strings.TrimSpace(req.CallID().Value()) == "":
		return "missing Call-ID header"
	case req.CSeq() == nil:
		return "missing CSeq header"
	case req.CSeq().MethodName != req.Method:
		return fmt.Sprintf("CSeq method %s does not match %s", req.CSeq().MethodName, req.Method)
	case req.Via() == nil:
		return "missing Via header"
	}
	if req.Method == siplib.INVITE {
		c := req.Contact()
		if c == nil || c.Address.Host == "" {
			return "INVITE without a usable Contact header"
		}
		if !req.From().Params.Has("tag") {
			return "INVITE From header without a tag"
		}
	}
	return ""
}

// unsupportedRequire lists the Require options we do not support; we
// support none.
func unsupportedRequire(req *siplib.Request) string {
	var out []string
	for _, h := range req.GetHeaders("Require") {
		for _, opt := range strings.Split(h.Value(), ",") {
			if opt = strings.TrimSpace(opt); opt != "" {
				out = append(out, opt)
			}
		}
	}
	return strings.Join(out, ", ")
}

// forbid answers a request from an address no trunk allows: one response,
// no dialog, no ports, and a log line at most once a minute per source.
func (s *Server) forbid(req *siplib.Request, tx siplib.ServerTransaction, src netip.AddrPort) {
	if s.limit.allow("403|"+src.Addr().String(), time.Now()) {
		s.log.Warn("sip request from address no trunk allows", "method", req.Method, "source", src,
			"user_agent", headerValue(req, "User-Agent"), "note", "logged once a minute per source")
	}
	if req.IsAck() {
		return
	}
	s.send(tx, siplib.NewResponseFromRequest(req, 403, "Forbidden", nil))
	// Keep nothing for it: no retransmission timers, no waiting for ACK.
	tx.Terminate()
}

// onOptions answers a keep-alive or a health probe. A draining node answers
// 503 with Retry-After, like an INVITE: a SIP front probing its nodes (a
// Kamailio dispatcher) then stops sending it new calls while the node
// finishes those it has.
func (s *Server) onOptions(req *siplib.Request, tx siplib.ServerTransaction) {
	res := siplib.NewResponseFromRequest(req, 200, "OK", nil)
	if s.isDraining() {
		res = siplib.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
		res.AppendHeader(siplib.NewHeader("Retry-After", s.retryAfter()))
	}
	res.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	res.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(siplib.NewHeader("Accept-Language", "en"))
	s.send(tx, res)
}

// inDialog routes a request carrying a To tag to its dialog, or 481.
func (s *Server) inDialog(req *siplib.Request, tx siplib.ServerTransaction) {
	d := s.findDialog(dialogKeyUAS(req))
	if d == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if !d.checkCSeq(req) {
		s.respond(tx, req, 500, "Server Internal Error")
		return
	}
	switch req.Method {
	case siplib.BYE:
		d.onBye(req, tx)
	case siplib.INVITE:
		s.onReInvite(d, req, tx)
	case siplib.UPDATE:
		s.onUpdate(d, req, tx)
	case siplib.INFO:
		d.onInfo(req, tx)
	case siplib.NOTIFY:
		d.onNotify(req, tx)
	case siplib.REFER:
		d.onRefer(req, tx)
	case siplib.OPTIONS:
		s.onOptions(req, tx)
	default:
		res := siplib.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(siplib.NewHeader("Allow", allowMethods))
		s.send(tx, res)
	}
}

// respond sends a bodiless response with code and reason.
func (s *Server) respond(tx siplib.ServerTransaction, req *siplib.Request, code int, reason string) {
	s.send(tx, siplib.NewResponseFromRequest(req, code, reason, nil))
}

// send sends res on tx, adding our Server header.
func (s *Server) send(tx siplib.ServerTransaction, res *siplib.Response) {
	if res.GetHeader("Server") == nil {
		res.AppendHeader(siplib.NewHeader("Server", s.cfg.UserAgent))
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip response not sent", "status", res.StatusCode, "err", err)
		return
	}
	s.m.SIPResponse(res.StatusCode)
}

// retryAfter is the Retry-After value for 503 while draining.
func (s *Server) retryAfter() string {
	return strconv.Itoa(max(int(s.cfg.DrainTime/time.Second), 1))
}

func headerValue(m interface{ GetHeader(string) siplib.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
