package webrtc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/hotline-cc/hotline/internal/ratelimit"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

// Why a call ended: context.Cause of the call's context.
var (
	// ErrHangup: Hotline hung up (Leg.Hangup, or the call handler returned).
	ErrHangup = errors.New("webrtc: hung up by hotline")
	// ErrRemoteHangup: the page hung up.
	ErrRemoteHangup = errors.New("webrtc: hung up by the page")
	// ErrSignalingLost: the signaling socket dropped and was not resumed in time.
	ErrSignalingLost = errors.New("webrtc: signaling lost")
	// ErrConnectTimeout: ICE and DTLS did not connect in time.
	ErrConnectTimeout = errors.New("webrtc: media did not connect in time")
	// ErrMediaFailed: the media connection failed.
	ErrMediaFailed = errors.New("webrtc: media connection failed")
	// ErrShutdown: the server shut down.
	ErrShutdown = errors.New("webrtc: server shutting down")
)

// Identity is who opened a signaling socket, as the Authenticator saw it.
// The zero Identity is an anonymous caller.
type Identity struct {
	// Subject names the user (an agent's login); "" is anonymous.
	Subject string
}

// Anonymous reports whether nobody logged in.
func (i Identity) Anonymous() bool { return i.Subject == "" }

// Authenticator checks a signaling request before it is upgraded; an
// error refuses it with 401. It must not write to the request's body.
type Authenticator func(r *http.Request) (Identity, error)

// Option configures a Server.
type Option func(*Server)

// WithAuthenticator checks every signaling request with a before it is
// upgraded; calls carry the Identity it returns. Anonymous identities are
// rate limited per address, authenticated ones are not.
func WithAuthenticator(a Authenticator) Option { return func(s *Server) { s.auth = a } }

// Server accepts browser calls over WebSocket signaling. Each call it
// accepts becomes a *Call handed to onCall in a goroutine of its own; the
// server owns that goroutine and every other one it starts, and Shutdown
// ends them all.
type Server struct {
	cfg      Config
	onCall   func(context.Context, *Call)
	log      *slog.Logger
	auth     Authenticator
	onPhone  func(agent string, online bool)
	se       pion.SettingEngine
	upgrader websocket.Upgrader
	limiter  *ratelimit.ByAddr

	ctx    context.Context // parent of every call
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // HTTP handlers on sockets and call goroutines
	callWG sync.WaitGroup // call goroutines, which close their own sockets

	mu      sync.Mutex
	closed  bool
	calls   map[string]*Call
	sockets map[*socket]struct{}
	phones  map[string][]*socket // agent → phone sockets, oldest first
	// phoneMu keeps onPhone's reports in the order of the changes.
	phoneMu sync.Mutex
}

// NewServer returns a server for cfg, which Validate must accept. log nil
// means slog.Default().
func NewServer(cfg Config, onCall func(context.Context, *Call), log *slog.Logger, opts ...Option) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		onCall:  onCall,
		log:     log,
		limiter: ratelimit.New(cfg.CallRate, cfg.CallBurst),
		calls:   make(map[string]*Call),
		sockets: make(map[*socket]struct{}),
		phones:  make(map[string][]*socket),
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteTimeout,
		CheckOrigin:      s.checkOrigin,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		Subprotocols:     []string{AgentSubprotocol},
	}
	s.se = settingEngine(cfg)
	for _, o := range opts {
		o(s)
	}
	return s
}

// settingEngine turns the ICE settings of cfg into pion's.
func settingEngine(cfg Config) pion.SettingEngine {
	var se pion.SettingEngine
	if cfg.UDPPortMin != 0 {
		_ = se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax) // Validate checked the range
	}
	if len(cfg.NAT1To1IPs) > 0 {
		// The rule form of SetNAT1To1IPs: public addresses replace the
		// private ones in host candidates.
		_ = se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External:        cfg.NAT1To1IPs,
			AsCandidateType: pion.ICECandidateTypeHost,
			Mode:            pion.ICEAddressRewriteReplace,
		})
	}
	if len(cfg.Interfaces) > 0 {
		names := slices.Clone(cfg.Interfaces)
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(names, name) })
	}
	if cfg.LoopbackOnly {
		loopback := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(loopback)
		se.SetRemoteIPFilter(loopback)
		// No multicast queries for .local candidates: nothing leaves the host.
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	// A page that lost its network gets ConnectTimeout to come back.
	se.SetICETimeouts(5*time.Second, cfg.ConnectTimeout, 2*time.Second)
	return se
}

// checkOrigin lets the configured page origins open sockets; with none
// configured, only the server's own origin. Clients that send no Origin
// are not browsers and cannot be made to call by another site.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		return strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), u.Scheme+"://"+u.Host) {
			return true
		}
	}
	return false
}

// Handler serves the signaling endpoints: /ws/call for callers, and
// /ws/agent for agents' phones when WithAgentPhones is set.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/call", func(w http.ResponseWriter, r *http.Request) { s.serveSocket(w, r, false) })
	if s.onPhone != nil {
		mux.HandleFunc("GET /ws/agent", func(w http.ResponseWriter, r *http.Request) { s.serveSocket(w, r, true) })
	}
	return mux
}

// serveSocket admits, upgrades and reads one signaling socket: a caller's,
// or an agent's phone, which stays open between calls.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, phone bool) {
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "bad remote address", http.StatusBadRequest)
		return
	}
	var ident Identity
	if s.auth != nil {
		if ident, err = s.auth(r); err != nil {
			s.log.Info("signaling refused: not authenticated", "remote", remote.String(), "err", err)
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
	}
	if phone && ident.Anonymous() {
		s.log.Info("agent phone refused: no agent signed in", "remote", remote.String())
		http.Error(w, "not authenticated", http.StatusUnauthorized)
		return
	}
	if ident.Anonymous() {
		if ok, wait := s.limiter.Allow(remote.Addr(), time.Now()); !ok {
			s.log.Info("signaling refused: rate limited", "remote", remote.String())
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			http.Error(w, "too many calls, try again later", http.StatusTooManyRequests)
			return
		}
	}
	if !s.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Info("signaling upgrade failed", "remote", remote.String(), "err", err)
		return // the upgrader has answered
	}
	k := newSocket(s, conn, remote, ident)
	k.phone = phone
	if !s.addSocket(k) {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "busy"), time.Now().Add(s.cfg.WriteTimeout))
		_ = conn.Close()
		return
	}
	defer s.removeSocket(k)
	go k.writeLoop()
	if phone {
		s.addPhone(k)
		k.send(Message{Type: TypeRegistered})
	}
	k.readLoop()
	if phone {
		s.removePhone(k)
	}
	<-k.done
	if k.call != nil {
		k.call.detach(k)
	}
}

// enter counts a goroutine in unless the server has shut down.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// addSocket registers k, unless MaxCalls sockets are open already.
func (s *Server) addSocket(k *socket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.sockets) >= s.cfg.MaxCalls {
		return false
	}
	s.sockets[k] = struct{}{}
	return true
}

func (s *Server) removeSocket(k *socket) {
	s.mu.Lock()
	delete(s.sockets, k)
	s.mu.Unlock()
}

// resume attaches the call named by session to k, if token is its token
// and k's page is who started it.
func (s *Server) resume(k *socket, session, token string) error {
	s.mu.Lock()
	c := s.calls[session]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare([]byte(c.token), []byte(token)) != 1 || c.Identity != k.ident {
		return protoErr(CodeNoSession, "no call to resume")
	}
	if !c.attach(k) {
		return protoErr(CodeNoSession, "call ended")
	}
	k.call = c
	k.send(Message{Type: TypeResumed, Session: c.ID})
	return nil
}

// serveCall runs onCall for c, containing a panic to its own call.
func (s *Server) serveCall(c *Call) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic in call handler", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if c.handler != nil {
		c.handler(c.ctx, c)
		return
	}
	s.onCall(c.ctx, c)
}

// Calls is the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Shutdown hangs up every call, closes every socket and waits, within ctx,
// for every goroutine the server started (call handlers included) to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel(ErrShutdown)
	done := make(chan struct{})
	go func() {
		// Calls first: each tells its page why before its socket closes.
		s.callWG.Wait()
		s.mu.Lock()
		for k := range s.sockets {
			k.close(websocket.CloseGoingAway, "shutting down")
		}
		s.mu.Unlock()
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webrtc: shutdown: %w", ctx.Err())
	}
}
