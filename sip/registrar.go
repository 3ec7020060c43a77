package sip

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// maxBindings bounds the contacts one agent may register; a new contact
// beyond it replaces the one closest to expiry, so a phone that comes back
// from a new port is never locked out by its own stale bindings.
const maxBindings = 8

// Binding is one registered contact of an agent.
type Binding struct {
	// User is the agent: the user part of the address of record.
	User string
	// Contact is the URI the phone registered, where it takes INVITEs.
	Contact string
	// Source is where the REGISTER came from. A phone behind NAT is
	// reached there rather than at its Contact: dial it with
	// DialRequest{To: b.Contact, Destination: b.Source}.
	Source netip.AddrPort
	// Transport is "udp" or "tcp", as the REGISTER came.
	Transport string
	// Expires is when the binding lapses unless the phone refreshes it.
	Expires time.Time
	// UserAgent is the phone's User-Agent header, for the supervisor's view.
	UserAgent string
}

// RegistrationEvent tells that an agent's set of contacts changed: a phone
// registered, unregistered, or its binding expired. Bindings is the set as
// it is when the event is delivered; empty means the agent is offline.
type RegistrationEvent struct {
	User     string
	Bindings []Binding
}

// binding is a Binding with what RFC 3261 §10.3 needs to order updates.
type binding struct {
	Binding
	key    string // the contact URI in comparable form
	callID string
	cseq   uint32
}

// registrar keeps the agents' bindings (RFC 3261 §10.3). Changes are
// reported on the registrar's own goroutine (run), so a slow listener
// delays later events, never a REGISTER.
type registrar struct {
	accounts map[string]*digestAuth
	// unknown challenges REGISTERs for users we do not have, so that
	// they look the same as a wrong password from outside.
	unknown        *digestAuth
	minExp, maxExp time.Duration

	mu       sync.Mutex
	aors     map[string][]*binding
	pending  []string        // users whose contacts changed, each once
	queued   map[string]bool // users in pending
	onChange func(RegistrationEvent)
	wake     chan struct{} // run looks again: bindings or pending changed
}

func newRegistrar(agents []AgentConfig, realm string, lo, hi time.Duration) (*registrar, error) {
	key := newNonceKey()
	r := &registrar{
		accounts: make(map[string]*digestAuth, len(agents)),
		unknown:  newDigestAuth("", hex.EncodeToString(newNonceKey()), realm, key),
		minExp:   lo,
		maxExp:   hi,
		aors:     make(map[string][]*binding),
		queued:   make(map[string]bool),
		wake:     make(chan struct{}, 1),
	}
	for _, a := range agents {
		pw := os.Getenv(a.PasswordEnv)
		if pw == "" {
			return nil, fmt.Errorf("agent %q: environment variable %s (password_env) is empty or unset", a.User, a.PasswordEnv)
		}
		r.accounts[a.User] = newDigestAuth(a.User, pw, realm, key)
	}
	return r, nil
}

// OnRegistration sets fn to be told whenever an agent's set of contacts
// changes (nil: nobody is told). fn runs on a goroutine of the server, one
// event at a time; events for one agent come in order, and an agent whose
// contacts change again before fn has heard of it gets one event with the
// latest set. Set it before Start to miss nothing.
func (s *Server) OnRegistration(fn func(RegistrationEvent)) {
	s.reg.mu.Lock()
	s.reg.onChange = fn
	s.reg.mu.Unlock()
}

// Contacts lists user's current bindings, oldest registration first; none
// when the agent is offline or unknown.
func (s *Server) Contacts(user string) []Binding {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	return s.reg.contactsLocked(user, time.Now())
}

func (r *registrar) contactsLocked(user string, now time.Time) []Binding {
	var out []Binding
	for _, b := range r.aors[user] {
		if b.Expires.After(now) {
			out = append(out, b.Binding)
		}
	}
	return out
}

// contactUpdate is one Contact of a REGISTER, its expiry settled.
type contactUpdate struct {
	uri     string
	key     string
	expires time.Duration // 0 removes the binding
}

// registerRequest is what a REGISTER asks of the registrar.
type registerRequest struct {
	user      string
	contacts  []contactUpdate
	wildcard  bool // Contact: * with Expires: 0: remove every binding
	callID    string
	cseq      uint32
	source    netip.AddrPort
	transport string
	userAgent string
}

// registerError is a REGISTER the registrar refuses, with its response.
type registerError struct {
	code   int
	reason string
	detail string // Warning text for 400, logs
}

func (e *registerError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.detail) }

func badRegister(format string, args ...any) *registerError {
	return &registerError{code: 400, reason: "Bad Request", detail: fmt.Sprintf(format, args...)}
}

// parseRegister reads the Contacts and expiries of a REGISTER (RFC 3261
// §10.3 steps 6 and 7). A contact's expires parameter beats the Expires
// header; without either the registration gets the longest lifetime. A
// non-zero lifetime below the minimum fails with 423; above the maximum it
// is cut to it.
func (r *registrar) parseRegister(req *siplib.Request, user string, src netip.AddrPort) (registerRequest, *registerError) {
	rr := registerRequest{
		user:      user,
		callID:    req.CallID().Value(),
		cseq:      req.CSeq().SeqNo,
		source:    src,
		transport: strings.ToLower(req.Transport()),
		userAgent: truncate(headerValue(req, "User-Agent")),
	}
	hdrExp := time.Duration(-1)
	if h := req.GetHeader("Expires"); h != nil {
		d, ok := parseExpires(h.Value())
		if !ok {
			return rr, badRegister("bad Expires header %q", truncate(h.Value()))
		}
		hdrExp = d
	}
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*siplib.ContactHeader)
		if !ok {
			return rr, badRegister("bad Contact header")
		}
		if c.Address.Wildcard {
			rr.wildcard = true
			continue
		}
		scheme := strings.ToLower(c.Address.Scheme)
		if (scheme != "sip" && scheme != "sips") || c.Address.Host == "" {
			return rr, badRegister("contact %q: want a sip URI with a host", truncate(c.Address.String()))
		}
		exp := hdrExp
		if v, ok := c.Params.Get("expires"); ok {
			if exp, ok = parseExpires(v); !ok {
				return rr, badRegister("contact expires %q is not a number of seconds", truncate(v))
			}
		}
		switch {
		case exp < 0:
			exp = r.maxExp
		case exp > 0 && exp < r.minExp:
			return rr, &registerError{code: 423, reason: "Interval Too Brief",
				detail: fmt.Sprintf("expires %s below %s", exp, r.minExp)}
		case exp > r.maxExp:
			exp = r.maxExp
		}
		rr.contacts = append(rr.contacts, contactUpdate{uri: c.Address.String(), key: contactKey(c.Address), expires: exp})
	}
	if rr.wildcard && (len(rr.contacts) > 0 || hdrExp != 0) {
		return rr, badRegister("Contact: * needs Expires: 0 and no other contact")
	}
	return rr, nil
}

// parseExpires reads delta-seconds; values past 2^32-1 mean "very long".
func parseExpires(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > math.MaxUint32 {
		n = math.MaxUint32
	}
	return time.Duration(n) * time.Second, true
}

// contactKey is a contact URI in the form RFC 3261 §19.1.4 compares:
// case-insensitive scheme and host, default port, transport.
func contactKey(u siplib.Uri) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port
	if port == 0 {
		port = 5060
		if scheme == "sips" {
			port = 5061
		}
	}
	tr, _ := u.UriParams.Get("transport")
	return fmt.Sprintf("%s:%s@%s:%d;%s", scheme, u.User, strings.ToLower(u.Host), port, strings.ToLower(tr))
}

// apply makes the bindings of rr.user what rr asks, all or nothing: a
// contact already bound by the same Call-ID with a CSeq not below rr's is
// an out-of-order request and fails with 500 (RFC 3261 §10.3 step 7).
func (r *registrar) apply(rr registerRequest, now time.Time) ([]Binding, *registerError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.aors[rr.user]
	next := make([]*binding, 0, len(old)+len(rr.contacts))
	for _, b := range old {
		if b.Expires.After(now) {
			next = append(next, b)
		}
	}
	stale := func(b *binding) bool { return b.callID == rr.callID && rr.cseq <= b.cseq }
	if rr.wildcard {
		for _, b := range next {
			if stale(b) {
				return nil, &registerError{code: 500, reason: "Server Internal Error", detail: "out of order REGISTER"}
			}
		}
		next = next[:0]
	}
	for _, c := range rr.contacts {
		i := slices.IndexFunc(next, func(b *binding) bool { return b.key == c.key })
		if i >= 0 {
			if stale(next[i]) {
				return nil, &registerError{code: 500, reason: "Server Internal Error", detail: "out of order REGISTER"}
			}
			next = slices.Delete(next, i, i+1)
		}
		if c.expires == 0 {
			continue
		}
		if len(next) >= maxBindings {
			soonest := 0
			for j, b := range next {
				if b.Expires.Before(next[soonest].Expires) {
					soonest = j
				}
			}
			next = slices.Delete(next, soonest, soonest+1)
		}
		next = append(next, &binding{
			Binding: Binding{User: rr.user, Contact: c.uri, Source: rr.source, Transport: rr.transport,
				Expires: now.Add(c.expires), UserAgent: rr.userAgent},
			key: c.key, callID: rr.callID, cseq: rr.cseq,
		})
	}
	if !sameContacts(old, next, now) {
		r.queueLocked(rr.user)
	}
	if len(next) == 0 {
		delete(r.aors, rr.user)
	} else {
		r.aors[rr.user] = next
	}
	r.kick()
	return r.contactsLocked(rr.user, now), nil
}

// sameContacts reports whether the live contacts of old are those of next:
// a refresh is not news, a new or lost contact is.
func sameContacts(old, next []*binding, now time.Time) bool {
	live := 0
	for _, b := range old {
		if !b.Expires.After(now) {
			continue
		}
		live++
		if !slices.ContainsFunc(next, func(n *binding) bool { return n.key == b.key }) {
			return false
		}
	}
	return live == len(next)
}

func (r *registrar) queueLocked(user string) {
	if !r.queued[user] {
		r.queued[user] = true
		r.pending = append(r.pending, user)
	}
}

// kick wakes run without waiting.
func (r *registrar) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// expire drops the bindings lapsed at now, queuing their agents, and
// returns when the next one lapses (zero: none left).
func (r *registrar) expire(now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	for user, bs := range r.aors {
		live := slices.DeleteFunc(bs, func(b *binding) bool { return !b.Expires.After(now) })
		if len(live) != len(bs) {
			r.queueLocked(user)
		}
		if len(live) == 0 {
			delete(r.aors, user)
			continue
		}
		r.aors[user] = live
		for _, b := range live {
			if next.IsZero() || b.Expires.Before(next) {
				next = b.Expires
			}
		}
	}
	return next
}

// nextEvent takes the next pending event, with the agent's contacts now.
func (r *registrar) nextEvent() (RegistrationEvent, func(RegistrationEvent), bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return RegistrationEvent{}, nil, false
	}
	user := r.pending[0]
	r.pending = r.pending[1:]
	delete(r.queued, user)
	return RegistrationEvent{User: user, Bindings: r.contactsLocked(user, time.Now())}, r.onChange, true
}

// run expires bindings when they lapse and delivers registration events,
// until ctx is done.
func (r *registrar) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := r.expire(time.Now())
		for ctx.Err() == nil {
			ev, fn, ok := r.nextEvent()
			if !ok {
				break
			}
			if fn != nil {
				fn(ev)
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// onRegister serves a REGISTER from an agent's phone: digest
// authentication with the agent's credentials, then the binding update.
// The 200 lists the agent's bindings with the time each has left.
func (s *Server) onRegister(req *siplib.Request, tx siplib.ServerTransaction, src netip.AddrPort) {
	r := s.reg
	user := req.To().Address.User
	auth := r.accounts[user]
	if auth == nil {
		auth = r.unknown
	}
	if !s.authorize(req, tx, auth, src, "agent", user) {
		return
	}
	rr, rerr := r.parseRegister(req, user, src)
	var bindings []Binding
	if rerr == nil {
		bindings, rerr = r.apply(rr, time.Now())
	}
	if rerr != nil {
		s.log.Info("register refused", "agent", user, "source", src, "status", rerr.code, "reason", rerr.detail)
		res := siplib.NewResponseFromRequest(req, rerr.code, rerr.reason, nil)
		switch rerr.code {
		case 423:
			res.AppendHeader(siplib.NewHeader("Min-Expires", strconv.Itoa(int(r.minExp/time.Second))))
		case 400:
			res.AppendHeader(siplib.NewHeader("Warning", fmt.Sprintf("399 %s \"%s\"", s.cfg.UserAgent, sanitizeWarning(rerr.detail))))
		}
		s.send(tx, res)
		return
	}
	s.log.Debug("register", "agent", user, "source", src, "contacts", len(bindings), "call_id", rr.callID)
	s.send(tx, registerOK(req, bindings, time.Now()))
}

// registerOK is the 200 to a REGISTER: every binding of the agent with the
// seconds it has left.
func registerOK(req *siplib.Request, bindings []Binding, now time.Time) *siplib.Response {
	res := siplib.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range bindings {
		var u siplib.Uri
		if err := siplib.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		c := &siplib.ContactHeader{Address: u, Params: siplib.NewParams()}
		c.Params.Add("expires", strconv.Itoa(int((b.Expires.Sub(now)+time.Second-1)/time.Second)))
		res.AppendHeader(c)
	}
	return res
}

// sanitizeWarning makes text safe inside a Warning header's quotes.
func sanitizeWarning(text string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, text)
}
