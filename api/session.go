package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An agent's login token is "hls1.<payload>.<mac>": the payload is the
// base64url JSON of sessionClaims, the mac base64url HMAC-SHA256 over
// "hls1.<payload>" with the node's session key. It is checked without a
// lookup, so every node holding the key accepts it.
const sessionPrefix = "hls1."

type sessionClaims struct {
	Agent string `json:"sub"`
	Role  string `json:"role"`
	Exp   int64  `json:"exp"` // Unix seconds
}

// Login limits. Wrong credentials are answered after loginFailDelay, the
// same whatever was wrong, so the time tells nothing and a guesser goes
// slowly; each address may fail loginBurst times, then once every
// loginRefill. A login that succeeds gives its token back: a floor of
// agents behind one address logs in at nine without tripping the limit.
const (
	loginFailDelay = 400 * time.Millisecond
	loginBurst     = 10
	loginRefill    = 6 * time.Second
	maxPassword    = 256
)

// processKey is the signing key of a node with no configured key: random,
// one for the process, so the API and the agents' phones share it.
var processKey = sync.OnceValue(func() []byte {
	key := make([]byte, minSessionKeyLen)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return key
})

// sessionKey reads the signing key from the environment variable the
// configuration names, or gives the process's random one.
func sessionKey(cfg Config) ([]byte, error) {
	if cfg.SessionKeyEnv == "" {
		return processKey(), nil
	}
	v := os.Getenv(cfg.SessionKeyEnv)
	if len(v) < minSessionKeyLen {
		return nil, fmt.Errorf("environment variable %s (api.session_key_env): %d characters, want at least %d", cfg.SessionKeyEnv, len(v), minSessionKeyLen)
	}
	return []byte(v), nil
}

func sessionMAC(key []byte, signed string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// mintSession signs an agent token for agent, valid until exp.
func mintSession(key []byte, agent string, exp time.Time) (string, error) {
	b, err := json.Marshal(sessionClaims{Agent: agent, Role: RoleAgent.String(), Exp: exp.Unix()})
	if err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	signed := sessionPrefix + base64.RawURLEncoding.EncodeToString(b)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(key, signed)), nil
}

// verifySession reads an agent token: signed with key, not expired at now,
// for a well-formed agent id. Only the agent role is ever minted, so no
// other is accepted.
func verifySession(key []byte, tok string, now time.Time) (principal, bool) {
	if !strings.HasPrefix(tok, sessionPrefix) {
		return principal{}, false
	}
	i := strings.LastIndexByte(tok, '.')
	if i < len(sessionPrefix) {
		return principal{}, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || !hmac.Equal(mac, sessionMAC(key, tok[:i])) {
		return principal{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(tok[len(sessionPrefix):i])
	if err != nil {
		return principal{}, false
	}
	var c sessionClaims
	if json.Unmarshal(b, &c) != nil || c.Role != RoleAgent.String() || !validName(c.Agent) || now.Unix() >= c.Exp {
		return principal{}, false
	}
	return principal{name: c.Agent, role: RoleAgent}, true
}

// AgentTokens checks agents' login tokens away from the API's handler: on
// the agent's phone socket, which carries no Authorization header.
type AgentTokens struct{ key []byte }

// NewAgentTokens checks tokens signed with the key cfg gives the API.
func NewAgentTokens(cfg Config) (*AgentTokens, error) {
	key, err := sessionKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return &AgentTokens{key: key}, nil
}

// Verify returns the agent a valid, unexpired login token names.
func (v *AgentTokens) Verify(tok string) (agent string, ok bool) {
	p, ok := verifySession(v.key, tok, time.Now())
	return p.name, ok
}

type loginRequest struct {
	Agent    string `json:"agent"`
	Password string `json:"password"`
}

// parseLogin reads POST /api/v1/login's body.
func parseLogin(r io.Reader) (loginRequest, error) {
	var req loginRequest
	if err := decodeBody(r, &req); err != nil {
		return loginRequest{}, err
	}
	var bad []string
	if !validName(req.Agent) {
		bad = append(bad, "agent: want the agent's id, 1 to 64 letters, digits, . _ @ -")
	}
	if req.Password == "" || len(req.Password) > maxPassword {
		bad = append(bad, fmt.Sprintf("password: want 1 to %d characters", maxPassword))
	}
	return req, badList(bad)
}

// login exchanges an agent's id and password for a token of the agent
// role, for the agent desktop.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if s.deps.Login == nil {
		writeError(w, http.StatusNotImplemented, "agent login is not available on this node")
		return
	}
	addr := remoteAddr(r)
	if ok, wait := s.logins.Allow(addr, time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "too many login attempts: wait and try again")
		return
	}
	if !isJSON(w, r) {
		return
	}
	req, err := parseLogin(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if rl, ok := r.Context().Value(reqLogKey).(*reqLog); ok {
		rl.who = req.Agent
	}
	if !s.deps.Login(req.Agent, req.Password) {
		if !sleepCtx(r.Context(), loginFailDelay) {
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
		writeError(w, http.StatusUnauthorized, "wrong agent or password")
		return
	}
	s.logins.Refund(addr)
	exp := time.Now().Add(s.cfg.SessionTTL).Truncate(time.Second)
	tok, err := mintSession(s.sessionKey, req.Agent, exp)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "agent": req.Agent, "role": RoleAgent.String(), "expires_at": exp.UTC()})
}

// sleepCtx waits d unless ctx ends first; it reports whether it waited.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// remoteAddr is the request's peer; behind a proxy that is the proxy, so
// the limit is then the proxy's, shared by its clients.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}
