// Package api is the operator's HTTP JSON API: call records with their
// transcripts and emotion timelines, recordings, agents, queues, callback
// requests, crisis alerts and the live event stream, the review of
// Hotline's answers (marks, intents' example phrases, daily figures),
// beside the health, readiness and metrics endpoints.
//
// Every /api/v1 request but the login carries "Authorization: Bearer
// <token>". A token grants a role:
//
//	endpoint                                 agent       supervisor  admin
//	POST /api/v1/login                       (no token: an agent's id and password)
//	GET /api/v1/calls                        -           yes         yes
//	GET /api/v1/calls/{id}                   own calls   yes         yes
//	GET /api/v1/calls/{id}/recordings/{rid}  -           yes (*)     yes
//	PUT /api/v1/calls/{id}/turns/{seq}/mark  -           yes         yes
//	GET /api/v1/intents                      -           yes         yes
//	POST /api/v1/intents/{name}/examples     -           yes         yes
//	GET /api/v1/figures                      -           yes         yes
//	GET /api/v1/agents                       -           yes         yes
//	GET /api/v1/agents/{id}                  own         yes         yes
//	POST /api/v1/agents/{id}/state           own         yes         yes
//	GET /api/v1/queues                       yes         yes         yes
//	GET /api/v1/callbacks                    -           yes         yes
//	GET /api/v1/alerts                       -           yes         yes
//	POST /api/v1/alerts/{id}/ack             -           yes         yes
//	GET /api/v1/events                       own calls   yes         yes
//	GET /api/v1/knowledge                    -           yes         yes
//	GET /api/v1/knowledge/{id}               -           yes         yes
//	PUT /api/v1/knowledge/{id}               -           yes         yes
//	DELETE /api/v1/knowledge/{id}            -           yes         yes
//	GET, POST /api/v1/campaigns              -           yes         yes
//	GET /api/v1/campaigns/{id}               -           yes         yes
//	POST /api/v1/campaigns/{id}/contacts     -           yes         yes
//	POST /api/v1/campaigns/{id}/start        -           yes         yes
//	  (and /pause, /resume, /stop)
//	GET /api/v1/campaigns/{id}/results       -           yes         yes
//	GET, POST /api/v1/dnc                    -           yes         yes
//	DELETE /api/v1/dnc/{number}              -           yes         yes
//	GET /api/v1/nodes                        -           yes         yes
//
// (*) or with no token, by the link signed for an hour that a call's
// detail gives a supervisor for each recording (play_url): the review
// page's audio element cannot send a token, and asks for ranges itself.
//
// Tokens are the configured ones (api.tokens), and the agent tokens the
// login signs: HMAC-SHA256 over the agent's id, the agent role and an
// expiry, with the key api.session_key_env names (or one random per
// process). An agent's own calls are those the call record or one of its
// transfers names the agent on (the token's name is the agent's id); an
// agent hears recordings through the agent desktop, not this API. No
// token, or an unknown or expired one, is 401; a role that may not is 403.
// /healthz, /readyz and /metrics need no token: probes and scrapers have
// none, and they show no caller's data. Nor do the desktops' static pages,
// /agent/, /supervisor/, /review/ and /campaigns/: they hold no data, and ask for a
// token.
//
// Personal data: the store redacts what callers said before it is written,
// and supervisors' corrections and example phrases too; this package adds
// nothing that could carry more. Error messages that echo
// a request's input are clipped and redacted, the free-form emotion cues
// and live event payloads are redacted on the way out, the request log
// holds the redacted path only (never the query or a header), and a
// recording's file path never leaves the server.
//
// Knowledge articles (the ids are paths such as branches/opening-hours)
// are the operator's own text, not callers': they are shown as written.
// PUT takes a document (text/markdown, text/plain or text/html) and makes
// it the article's next version; see docs/knowledge.md.
//
// Errors are JSON: {"error": "..."} with 400 for a bad parameter or body
// (naming every problem), 401, 403, 404, 409 for a state change the agent's
// state does not allow (or a knowledge base built into the binary, which
// cannot be changed), 413 for a document too large, 415 for a body of a
// type the endpoint does not take, 429 for too many login attempts, 501 for
// what the node does not provide, and 500 (details in the log only).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hotline-cc/hotline/internal/ratelimit"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/store"
)

// AgentView is one agent as the API shows it.
type AgentView struct {
	ID   string
	Name string
	// State is available, busy, wrap_up, away, offline, ...
	State string
	// Since is when the agent entered State.
	Since time.Time
	// Reason says why the agent is away (break, training), if given.
	Reason string
	// CallID is the call the agent is on, if any.
	CallID string
}

// QueueView is one queue as the API shows it.
type QueueView struct {
	Name string
	// Waiting is how many callers wait in it now.
	Waiting int
	// LongestWait is how long its longest-waiting caller has waited.
	LongestWait time.Duration
	// AgentsAvailable is how many agents could take its next caller.
	AgentsAvailable int
}

// Agents gives a snapshot of the agents. It is called on every request, so
// it must be cheap and safe for concurrent use.
type Agents interface{ Agents() []AgentView }

// Queues gives a snapshot of the queues, under the same terms as Agents.
type Queues interface{ Queues() []QueueView }

// Deps are what the API reads from.
type Deps struct {
	// Store is the call records. Required.
	Store *store.Store
	// Events is the live event bus. Required.
	Events *events.Bus
	// Metrics serves /metrics; nil serves none.
	Metrics http.Handler
	// Ready reports whether the node takes calls: nil when it does, else
	// why not (starting, draining). Nil Ready means always ready.
	Ready func() error
	// Agents and Queues come from routing; nil lists none.
	Agents Agents
	Queues Queues
	// Login checks an agent's id and password for POST /api/v1/login
	// (the agents' SIP passwords). It must take the same time whether or
	// not the agent exists. Nil: no login (501).
	Login func(agent, password string) bool
	// AgentControl changes agents' states (routing's SetState); nil: 501.
	AgentControl AgentControl
	// CallControl transfers live calls on; nil: 501.
	CallControl CallControl
	// Knowledge is the knowledge base the dialog answers from; nil: 501.
	Knowledge Knowledge
	// Intents is the rule flow's, for the review; nil lists none and
	// teaches none (501).
	Intents Intents
	// Campaigns runs the outbound campaigns and the do-not-call list;
	// nil: 501.
	Campaigns *campaign.Dialer
}

// readTimeout bounds a request's database work.
const readTimeout = 10 * time.Second

type server struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	tokens []token
	// sessionKey signs agents' login tokens; logins limits attempts.
	sessionKey []byte
	logins     *ratelimit.ByAddr
}

// token is an accepted token, kept as its hash so that comparing takes the
// same time whatever the token's length.
type token struct {
	hash [sha256.Size]byte
	name string
	role Role
}

// New returns the API's handler. It reads each token from its environment
// variable and fails when one is missing or too short to be a secret.
func New(cfg Config, deps Deps, log *slog.Logger) (http.Handler, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if deps.Store == nil || deps.Events == nil {
		return nil, errors.New("api: a store and an event bus are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := sessionKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &server{cfg: cfg, deps: deps, log: log, sessionKey: key, logins: ratelimit.New(float64(time.Second)/float64(loginRefill), loginBurst)}
	seen := map[[sha256.Size]byte]string{}
	for _, t := range cfg.Tokens {
		v := t.Value
		if v == "" {
			v = os.Getenv(t.TokenEnv)
		}
		if v == "" {
			return nil, fmt.Errorf("api: token %q: environment variable %s (api.tokens token_env) is empty", t.Name, t.TokenEnv)
		}
		if len(v) < minTokenLen {
			return nil, fmt.Errorf("api: token %q: %d characters, want at least %d", t.Name, len(v), minTokenLen)
		}
		h := sha256.Sum256([]byte(v))
		if other, dup := seen[h]; dup {
			return nil, fmt.Errorf("api: tokens %q and %q are the same token", other, t.Name)
		}
		seen[h] = t.Name
		s.tokens = append(s.tokens, token{hash: h, name: t.Name, role: roleNames[t.Role]})
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if deps.Metrics != nil && cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", deps.Metrics)
	}
	mux.Handle("GET /api/v1/calls", s.auth(RoleSupervisor, s.listCalls))
	mux.Handle("GET /api/v1/calls/{id}", s.auth(RoleAgent, s.call))
	mux.Handle("GET /api/v1/calls/{id}/recordings/{rid}", s.recordingAuth())
	mux.Handle("PUT /api/v1/calls/{id}/turns/{seq}/mark", s.auth(RoleSupervisor, s.markAnswer))
	mux.Handle("GET /api/v1/intents", s.auth(RoleSupervisor, s.intents))
	mux.Handle("POST /api/v1/intents/{name}/examples", s.auth(RoleSupervisor, s.addExample))
	mux.Handle("GET /api/v1/figures", s.auth(RoleSupervisor, s.figures))
	mux.HandleFunc("POST /api/v1/login", s.login)
	mux.Handle("GET /api/v1/agents", s.auth(RoleSupervisor, s.agents))
	mux.Handle("GET /api/v1/agents/{id}", s.auth(RoleAgent, s.agent))
	mux.Handle("POST /api/v1/agents/{id}/state", s.auth(RoleAgent, s.setAgentState))
	mux.Handle("GET /api/v1/queues", s.auth(RoleAgent, s.queues))
	mux.Handle("GET /api/v1/callbacks", s.auth(RoleSupervisor, s.callbacks))
	mux.Handle("GET /api/v1/alerts", s.auth(RoleSupervisor, s.alerts))
	mux.Handle("POST /api/v1/alerts/{id}/ack", s.auth(RoleSupervisor, s.ackAlert))
	mux.Handle("GET /api/v1/events", s.auth(RoleAgent, s.events))
	mux.Handle("GET /api/v1/nodes", s.auth(RoleSupervisor, s.nodes))
	mux.Handle("POST /api/v1/transfers", s.auth(RoleAgent, s.transferCall))
	mux.Handle("GET /api/v1/knowledge", s.auth(RoleSupervisor, s.listArticles))
	mux.Handle("GET /api/v1/knowledge/{id...}", s.auth(RoleSupervisor, s.article))
	mux.Handle("PUT /api/v1/knowledge/{id...}", s.auth(RoleSupervisor, s.putArticle))
	mux.Handle("DELETE /api/v1/knowledge/{id...}", s.auth(RoleSupervisor, s.deleteArticle))
	s.campaignRoutes(mux)
	desk := pages()
	for _, dir := range []string{"/agent/", "/supervisor/", "/review/", "/campaigns/", "/shared/"} {
		mux.Handle("GET "+dir, desk)
	}
	return s.logRequests(mux), nil
}

// principal is who a request's token belongs to.
type principal struct {
	name string
	role Role
}

type ctxKey int

const (
	principalKey ctxKey = iota
	reqLogKey
)

func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey).(principal)
	return p
}

// authenticate finds the request's token: an agent's login token, or one
// of the configured ones. Every configured token is compared, in constant
// time, so the time taken tells nothing about which (or whether one)
// matched.
func (s *server) authenticate(r *http.Request) (principal, bool, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, false, false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return principal{}, true, false
	}
	tok = strings.TrimSpace(tok)
	if p, ok := verifySession(s.sessionKey, tok, time.Now()); ok {
		return p, true, true
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], s.tokens[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, true, false
	}
	return principal{name: s.tokens[found].name, role: s.tokens[found].role}, true, true
}

// auth admits requests whose token grants at least min.
func (s *server) auth(min Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, given, ok := s.authenticate(r)
		if !ok {
			challenge := `Bearer realm="hotline"`
			if given {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		if rl, ok := r.Context().Value(reqLogKey).(*reqLog); ok {
			rl.who = p.name
		}
		if p.role < min {
			writeError(w, http.StatusForbidden, fmt.Sprintf("the %s role may not do this", p.role))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.deps.Ready != nil {
		if err := s.deps.Ready(); err != nil {
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": safeText(err.Error())})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type agentJSON struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	State  string    `json:"state"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
	CallID string    `json:"call_id,omitempty"`
}

func (s *server) agents(w http.ResponseWriter, r *http.Request) {
	out := []agentJSON{}
	if s.deps.Agents != nil {
		for _, a := range s.deps.Agents.Agents() {
			out = append(out, toAgent(a))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

type queueJSON struct {
	Name            string `json:"name"`
	Waiting         int    `json:"waiting"`
	LongestWaitMS   int64  `json:"longest_wait_ms"`
	AgentsAvailable int    `json:"agents_available"`
}

func (s *server) queues(w http.ResponseWriter, r *http.Request) {
	out := []queueJSON{}
	if s.deps.Queues != nil {
		for _, q := range s.deps.Queues.Queues() {
			out = append(out, queueJSON{Name: q.Name, Waiting: q.Waiting, LongestWaitMS: q.LongestWait.Milliseconds(), AgentsAvailable: q.AgentsAvailable})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": out})
}

// writeJSON sends v; API answers hold callers' data, so no cache keeps
// them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": safeText(msg)})
}

// fail answers an error: a bad parameter or argument is the client's
// (400), an unknown id 404, anything else the server's, logged and not
// shown.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad badRequest
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.Error())
	case errors.Is(err, store.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), "store: ")
		writeError(w, http.StatusBadRequest, strings.TrimSuffix(msg, ": "+store.ErrInvalid.Error()))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case r.Context().Err() != nil:
		// The client left; nobody reads the answer.
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		s.log.Error("api request failed", "method", r.Method, "path", logPath(r), "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// reqLog is what the request log learns while the request runs.
type reqLog struct {
	who string
}

// statusWriter records the status and size of an answer. Unwrap lets
// http.ResponseController reach the connection (flushes, deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	n, err := sw.ResponseWriter.Write(b)
	sw.bytes += int64(n)
	return n, err
}

func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// logRequests logs each request once it is answered: method, redacted
// path, status, duration, size and the token's name. Probes and scrapes go
// to debug so that they do not drown the log.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rl := &reqLog{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), reqLogKey, rl)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		level := slog.LevelInfo
		if sw.status < 400 && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics") {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", logPath(r)),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", sw.bytes),
		}
		if rl.who != "" {
			attrs = append(attrs, slog.String("who", rl.who))
		}
		s.log.LogAttrs(r.Context(), level, "api request", attrs...)
	})
}

func logPath(r *http.Request) string { return safeText(r.URL.Path) }
