package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	siplib "github.com/emiago/sipgo/sip"
)

// Outcomes of a blind transfer (Call.Refer).
var (
	// ErrTransferred: the far end reported the transfer done and Hotline
	// hung up its leg; the cause of the handler's ctx.
	ErrTransferred = errors.New("sip: call transferred")
	// ErrReferRefused: the far end does not transfer calls (its answer to
	// REFER: 405, 501, 603...). The call goes on.
	ErrReferRefused = errors.New("sip: transfer refused")
	// ErrTransferFailed: the far end tried, and the call to the target
	// failed (busy, no answer...). The call goes on.
	ErrTransferFailed = errors.New("sip: transfer failed")
)

// ReferError is a transfer that did not happen, with the status the far
// end gave: its answer to REFER, or the final status it reported of the
// call to the target (0 when it ended the report without one).
type ReferError struct {
	Code   int
	Reason string
	err    error // ErrReferRefused or ErrTransferFailed
}

func (e *ReferError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.err.Error(), e.Code, e.Reason)
}

func (e *ReferError) Unwrap() error { return e.err }

// errReferPending is a second Refer on a call while one is in progress.
var errReferPending = errors.New("sip refer: a transfer is already in progress")

// referWait follows the NOTIFYs the far end sends about our REFER.
type referWait struct {
	once   sync.Once
	done   chan struct{} // closed on the final report
	status int
	reason string
}

func (w *referWait) finish(status int, reason string) {
	w.once.Do(func() {
		w.status, w.reason = status, reason
		close(w.done)
	})
}

// Refer transfers the call blind (RFC 3515): it asks the far end, a trunk
// that accepts REFER, to call target (a sip: or tel: URI) in our place,
// and follows the progress the far end reports. When it reports success,
// or accepts the REFER and then hangs up, Hotline's leg is ended (the
// handler's ctx cause is ErrTransferred) and Refer returns nil. When the
// far end refuses the REFER (ErrReferRefused) or the new call fails
// (ErrTransferFailed), the call goes on: fall back to Dial and
// media.Bridge. ctx bounds the wait for the outcome.
func (c *Call) Refer(ctx context.Context, target string) error { return c.d.refer(ctx, target) }

func (d *dialog) refer(ctx context.Context, target string) error {
	var u siplib.Uri
	if err := siplib.ParseUri(target, &u); err != nil || !slices.ContainsFunc([]string{"sip", "sips", "tel"}, func(s string) bool { return strings.EqualFold(s, u.Scheme) }) {
		return fmt.Errorf("sip refer: target %q: want a sip or tel URI", target)
	}
	w := &referWait{done: make(chan struct{})}
	d.mu.Lock()
	switch {
	case d.state != stateConfirmed:
		d.mu.Unlock()
		return fmt.Errorf("sip refer: %w", ErrHangup)
	case d.referring != nil:
		d.mu.Unlock()
		return errReferPending
	}
	d.referring = w
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.referring == w {
			d.referring = nil
		}
		d.mu.Unlock()
	}()

	req := d.newRequest(siplib.REFER)
	req.AppendHeader(siplib.NewHeader("Refer-To", "<"+u.String()+">"))
	req.AppendHeader(siplib.NewHeader("Referred-By", "<"+d.invite.To().Address.String()+">"))
	d.log.Info("transferring", "target", target)
	res, err := d.s.do(ctx, req)
	if err != nil {
		return fmt.Errorf("sip refer: %w", err)
	}
	if res.StatusCode >= 300 {
		d.log.Info("transfer refused", "status", res.StatusCode)
		return &ReferError{Code: res.StatusCode, Reason: res.Reason, err: ErrReferRefused}
	}
	select {
	case <-w.done:
	case <-d.ctx.Done():
		select {
		case <-w.done:
		default:
			if errors.Is(context.Cause(d.ctx), ErrRemoteHangup) {
				// Accepted, then hung up on us: the far end has the
				// call elsewhere and did not wait to report it.
				d.log.Info("transferred", "note", "far end hung up before reporting")
				return nil
			}
			return fmt.Errorf("sip refer: call ended during the transfer: %w", context.Cause(d.ctx))
		}
	case <-ctx.Done():
		return fmt.Errorf("sip refer: %w", ctx.Err())
	}
	if w.status < 200 || w.status >= 300 {
		d.log.Info("transfer failed", "status", w.status)
		return &ReferError{Code: w.status, Reason: w.reason, err: ErrTransferFailed}
	}
	d.log.Info("transferred")
	_ = d.hangup(ctx, ErrTransferred)
	return nil
}

// onNotify takes the far end's reports on our REFER (RFC 3515 §2.4.4): a
// message/sipfrag status line, final at 2xx and above or when the
// subscription ends.
func (d *dialog) onNotify(req *siplib.Request, tx siplib.ServerTransaction) {
	event := strings.ToLower(strings.TrimSpace(headerValue(req, "Event")))
	if event != "refer" && !strings.HasPrefix(event, "refer;") {
		d.s.respond(tx, req, 489, "Bad Event")
		return
	}
	d.s.respond(tx, req, 200, "OK")
	status, reason := parseSipfrag(req.Body())
	terminated := strings.HasPrefix(strings.ToLower(strings.TrimSpace(headerValue(req, "Subscription-State"))), "terminated")
	d.mu.Lock()
	w := d.referring
	d.mu.Unlock()
	if w == nil {
		return
	}
	d.log.Info("transfer progress", "status", status, "terminated", terminated)
	if status >= 200 || terminated {
		w.finish(status, reason)
	}
}

// parseSipfrag reads the status line of a message/sipfrag body; 0 when it
// has none.
func parseSipfrag(body []byte) (int, string) {
	line, _, _ := strings.Cut(string(body), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0, ""
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0, ""
	}
	return code, strings.Join(f[2:], " ")
}

// onRefer refuses the far end's request that we call someone else: Hotline
// transfers its calls itself (routing, recording and the agent's summary
// would all be bypassed), so there is no setting to allow it.
func (d *dialog) onRefer(req *siplib.Request, tx siplib.ServerTransaction) {
	d.log.Info("refer refused", "refer_to", truncate(headerValue(req, "Refer-To")))
	d.s.respond(tx, req, 403, "Forbidden")
}
