package sip

import (
	"context"
	"errors"
	"fmt"
	"github.com/hotline-cc/hotline/metrics"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/media"
)

// Errors that end a call, readable with context.Cause on the handler's ctx.
var (
	// ErrRemoteHangup: the far end sent BYE.
	ErrRemoteHangup = errors.New("sip: far end hung up")
	// ErrHangup: we hung up, through Leg.Hangup or the handler returning.
	ErrHangup = errors.New("sip: hung up")
	// ErrRTPTimeout: no RTP arrived for the configured rtp_timeout.
	ErrRTPTimeout = errors.New("sip: rtp timeout")
	// ErrNoACK: the caller never acknowledged our 200 OK.
	ErrNoACK = errors.New("sip: no ack for 200 ok")
	// ErrShutdown: the server shut down.
	ErrShutdown = errors.New("sip: server shutting down")
	// ErrCanceled: the call was canceled before it was answered: by the
	// caller, or, for a call we placed, by Dial's ctx (or a 487).
	ErrCanceled = errors.New("sip: call canceled")
	// ErrServerClosed is returned by Start after Close or Shutdown.
	ErrServerClosed = errors.New("sip: server closed")
)

// Server answers inbound SIP calls and hands each one to the Handler.
type Server struct {
	cfg Config
	// m counts responses and media quality; nil counts nothing.
	m       *metrics.Metrics
	handler Handler
	// screen sees each new call before it is answered; nil: none.
	screen Screen
	log    *slog.Logger

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	ports  *media.PortRange
	trunks []*trunk
	reg    *registrar
	extIP  netip.Addr // external_addr, or invalid
	rtpIP  netip.Addr // rtp_bind_addr
	limit  *logLimiter

	// Protocol timers, copied from sipgo's at NewServer; tests shorten them.
	t1, t2 time.Duration
	// byeTimeout bounds a BYE transaction we start.
	byeTimeout time.Duration
	// ringTime is how long we ring before answering: ring_time.
	ringTime time.Duration

	ctx    context.Context // parent of every call; canceled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	dialogs   map[string]*dialog
	changed   chan struct{} // closed and replaced when a dialog is removed
	listeners []*listener
	started   bool
	draining  bool
	closed    bool
	stopCtx   func() bool // unregisters the Start ctx watch

	wg        sync.WaitGroup // everything we start, and handlers in flight
	closeOnce sync.Once
	closeErr  error
}

type listener struct {
	transport string // "udp" or "tcp"
	addr      netip.AddrPort
	c         io.Closer
}

// NewServer builds a server for cfg; nothing listens until Start. log may
// be nil for slog.Default().
// SetMetrics makes the server count its responses and its calls' media
// quality in m. Call it before Start.
func (s *Server) SetMetrics(m *metrics.Metrics) { s.m = m }

func NewServer(cfg Config, h Handler, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sip config: %w", err)
	}
	if h == nil {
		return nil, errors.New("sip: nil handler")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "sip")
	s := &Server{
		cfg:        cfg,
		handler:    h,
		log:        log,
		limit:      newLogLimiter(time.Minute),
		t1:         siplib.T1,
		t2:         siplib.T2,
		byeTimeout: 64 * siplib.T1,
		ringTime:   cfg.RingTime,
		dialogs:    make(map[string]*dialog),
		changed:    make(chan struct{}),
	}
	var err error
	s.trunks, err = newTrunks(cfg.Trunks, cfg.UserAgent, newNonceKey())
	if err != nil {
		return nil, fmt.Errorf("sip config: %w", err)
	}
	lo, hi := cfg.registerExpires()
	if s.reg, err = newRegistrar(cfg.Agents, cfg.UserAgent, lo, hi); err != nil {
		return nil, fmt.Errorf("sip config: %w", err)
	}
	if cfg.ExternalAddr != "" {
		s.extIP, _ = netip.ParseAddr(cfg.ExternalAddr)
	}
	s.rtpIP, _ = netip.ParseAddr(cfg.RTPBindAddr)
	s.ports, err = media.NewPortRange(s.rtpIP, cfg.RTPPortMin, cfg.RTPPortMax)
	if err != nil {
		return nil, fmt.Errorf("sip: rtp ports: %w", err)
	}

	// sipgo logs what it cannot parse, whole: redact credentials, cut it
	// short and bound the rate (loglimit.go).
	sipLog := slog.New(newLimitHandler(redactHandler{log.Handler()}))
	s.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentTransportLayerOptions(siplib.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			siplib.WithTransactionLayerLogger(sipLog),
			siplib.WithTransactionLayerUnhandledResponseHandler(func(r *siplib.Response) {
				log.Debug("response outside any transaction", "status", r.StatusCode, "source", r.Source())
			}),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientLogger(sipLog))
	if err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	for _, m := range []siplib.RequestMethod{
		siplib.INVITE, siplib.ACK, siplib.CANCEL, siplib.BYE, siplib.OPTIONS,
		siplib.INFO, siplib.UPDATE, siplib.REGISTER, siplib.SUBSCRIBE, siplib.NOTIFY,
		siplib.REFER, siplib.MESSAGE, siplib.PRACK, siplib.PUBLISH,
	} {
		s.srv.OnRequest(m, s.onRequest)
	}
	s.srv.OnNoRoute(s.onRequest)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start binds every configured listener and serves them in the background.
// It returns once all are bound, so a caller may dial at once; with port 0,
// read the chosen port back with Addr. When ctx is done the server closes
// as by Close; to drain calls first, call Shutdown.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.started {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.started = true
	s.mu.Unlock()

	var lc net.ListenConfig
	var bound []*listener
	fail := func(err error) error {
		for _, l := range bound {
			_ = l.c.Close()
		}
		return err
	}
	for _, spec := range s.cfg.Listen {
		transport, addr, err := parseListen(spec)
		if err != nil {
			return fail(fmt.Errorf("sip: listen %q: %w", spec, err))
		}
		switch transport {
		case "udp":
			pc, err := lc.ListenPacket(ctx, "udp", addr)
			if err != nil {
				return fail(fmt.Errorf("sip: listen %s: %w", spec, err))
			}
			ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
			bound = append(bound, &listener{transport: transport, addr: unmapAP(ap), c: pc})
		case "tcp":
			ln, err := lc.Listen(ctx, "tcp", addr)
			if err != nil {
				return fail(fmt.Errorf("sip: listen %s: %w", spec, err))
			}
			ap := ln.Addr().(*net.TCPAddr).AddrPort()
			bound = append(bound, &listener{transport: transport, addr: unmapAP(ap), c: ln})
		}
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(ErrServerClosed)
	}
	s.listeners = bound
	for _, l := range bound {
		s.wg.Add(1)
		go s.serve(l)
	}
	if len(s.reg.accounts) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.reg.run(s.ctx)
		}()
	}
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Unlock()
	for _, l := range bound {
		s.log.Info("sip listening", "transport", l.transport, "addr", l.addr)
	}
	return nil
}

func (s *Server) serve(l *listener) {
	defer s.wg.Done()
	var err error
	switch c := l.c.(type) {
	case net.PacketConn:
		err = s.srv.ServeUDP(c)
	case net.Listener:
		err = s.srv.ServeTCP(c)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
		s.log.Error("sip listener stopped", "transport", l.transport, "addr", l.addr, "err", err)
	}
}

// Addr is the bound address of the first listener of network ("udp" or
// "tcp"), or the zero AddrPort if there is none or Start has not run.
func (s *Server) Addr(network string) netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.transport == network {
			return l.addr
		}
	}
	return netip.AddrPort{}
}

// shutdownByeWait bounds the wait for the answer to each BYE Shutdown
// sends once the drain time is over.
const shutdownByeWait = 4 * time.Second

// Shutdown stops taking calls: from now on INVITEs get 503 with
// Retry-After. Calls in progress get up to drain_time to finish; the rest
// are hung up with BYE. Then the listeners close. If ctx ends first,
// Shutdown closes at once and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.draining = true
	n := len(s.dialogs)
	s.mu.Unlock()
	s.log.Info("sip draining", "calls", n, "drain_time", s.cfg.DrainTime)

	drain := time.NewTimer(s.cfg.DrainTime)
	defer drain.Stop()
	s.waitIdle(ctx, drain.C)

	if left := s.snapshot(); len(left) > 0 && ctx.Err() == nil {
		s.log.Info("sip drain time over, hanging up", "calls", len(left))
		var wg sync.WaitGroup
		for _, d := range left {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The drain time is over: a far end that does not
				// answer the BYE (it is gone) must not hold the stop
				// for the BYE's whole 32 s transaction.
				byeCtx, cancel := context.WithTimeout(ctx, min(s.byeTimeout, shutdownByeWait))
				defer cancel()
				d.hangup(byeCtx, ErrShutdown)
			}()
		}
		wg.Wait()
		s.waitIdle(ctx, nil)
	}
	err := s.Close()
	if ctx.Err() != nil {
		return fmt.Errorf("sip shutdown: %w", ctx.Err())
	}
	return err
}

// Close ends every call at once (sending BYE without waiting long for the
// answer), closes the listeners and waits for everything the server
// started to stop.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.draining = true
		left := make([]*dialog, 0, len(s.dialogs))
		for _, d := range s.dialogs {
			left = append(left, d)
		}
		s.mu.Unlock()

		// Hang up what is left while the transport can still carry BYE.
		var wg sync.WaitGroup
		for _, d := range left {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), min(s.byeTimeout, time.Second))
				defer cancel()
				d.hangup(ctx, ErrShutdown)
			}()
		}
		wg.Wait()

		s.mu.Lock()
		s.closed = true
		if s.stopCtx != nil {
			s.stopCtx()
		}
		listeners := s.listeners
		s.mu.Unlock()
		s.cancel()
		for _, l := range listeners {
			if err := l.c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.closeErr = errors.Join(s.closeErr, fmt.Errorf("sip: close %s listener: %w", l.transport, err))
			}
		}
		s.wg.Wait()
		if err := s.ua.Close(); err != nil {
			s.closeErr = errors.Join(s.closeErr, fmt.Errorf("sip: close user agent: %w", err))
		}
		s.log.Info("sip stopped")
	})
	return s.closeErr
}

// enter registers a unit of work with the server; false once closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// goTracked runs fn in a goroutine Close waits for, or inline once closing.
func (s *Server) goTracked(fn func()) {
	if !s.enter() {
		fn()
		return
	}
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// addDialog registers d; false when the server no longer takes calls or is
// at max_calls.
func (s *Server) addDialog(d *dialog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining:
		return ErrShutdown
	case s.cfg.MaxCalls > 0 && len(s.dialogs) >= s.cfg.MaxCalls:
		return errAtCapacity
	}
	s.dialogs[d.key] = d
	return nil
}

var errAtCapacity = errors.New("sip: max_calls reached")

func (s *Server) removeDialog(d *dialog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dialogs[d.key] == d {
		delete(s.dialogs, d.key)
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

func (s *Server) findDialog(key string) *dialog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[key]
}

func (s *Server) snapshot() []*dialog {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*dialog, 0, len(s.dialogs))
	for _, d := range s.dialogs {
		out = append(out, d)
	}
	return out
}

// waitIdle waits until no dialog is left, ctx is done or stop fires.
func (s *Server) waitIdle(ctx context.Context, stop <-chan time.Time) {
	for {
		s.mu.Lock()
		n, ch := len(s.dialogs), s.changed
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Calls is the number of calls in progress, ringing included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.dialogs)
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
