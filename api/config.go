package api

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Role is what a token may do. Each role may do everything the roles
// before it may.
type Role int

// Roles.
const (
	// RoleAgent: the queues, and the agent's own calls: their detail and
	// their live events.
	RoleAgent Role = iota + 1
	// RoleSupervisor: every read: calls, recordings, agents, queues,
	// callbacks, crisis alerts, every live event.
	RoleSupervisor
	// RoleAdmin: everything a supervisor may, and what changes the node.
	RoleAdmin
)

var roleNames = map[string]Role{"agent": RoleAgent, "supervisor": RoleSupervisor, "admin": RoleAdmin}

func (r Role) String() string {
	for n, v := range roleNames {
		if v == r {
			return n
		}
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// Defaults.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultHeartbeat = 15 * time.Second
	// DefaultSessionTTL is how long an agent's login lasts: a shift.
	DefaultSessionTTL = 12 * time.Hour
	// maxSessionTTL keeps login tokens short-lived: they cannot be revoked
	// one by one, only all at once by changing the signing key.
	maxSessionTTL = 24 * time.Hour
	// minTokenLen: a shorter token is guessable, not a secret.
	minTokenLen = 16
	// minSessionKeyLen is a signing key's length: HMAC-SHA256's block of
	// security.
	minSessionKeyLen = 32
)

// Config is the api section of the configuration file.
type Config struct {
	// Listen is the address of the operator's API. Default 127.0.0.1:8080:
	// the API holds what callers said, so it is not exposed until the
	// operator chooses to.
	Listen string `yaml:"listen"`
	// MetricsListen, when set, is a separate address for /metrics (a
	// scraper's network), and the API's listener does not serve it.
	// Empty: /metrics is served on Listen, without a token, as Prometheus
	// scrapers have none.
	MetricsListen string `yaml:"metrics_listen"`
	// Tokens are the bearer tokens the API accepts.
	Tokens []Token `yaml:"tokens"`
	// Heartbeat is how often the live event stream sends a comment to keep
	// proxies from closing an idle stream. Default 15 s.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// SessionKeyEnv names the environment variable holding the key (at
	// least 32 characters) that signs agents' login tokens. Nodes sharing
	// the key accept each other's tokens, and tokens outlive a restart.
	// Empty: a random key per process.
	SessionKeyEnv string `yaml:"session_key_env"`
	// SessionTTL is how long an agent's login token is valid. Default
	// 12 h, at most 24 h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// RecordingsDir is where recordings are written (recording.dir); only
	// files under it are served. Empty: no recording is served.
	RecordingsDir string `yaml:"-"`
}

// Token is one bearer token and the role it grants.
type Token struct {
	// Name says whose token it is, in the request log; for an agent it is
	// the agent's id, which picks the agent's own calls and events.
	Name string `yaml:"name"`
	// Role is agent, supervisor or admin.
	Role string `yaml:"role"`
	// TokenEnv names the environment variable holding the token; the token
	// itself never goes in the file.
	TokenEnv string `yaml:"token_env"`
	// Value is the token for programs that have it from elsewhere; it is
	// never read from the file. When set it wins over TokenEnv.
	Value string `yaml:"-"`
}

// DefaultConfig listens on the loopback interface and accepts no token.
func DefaultConfig() Config {
	return Config{Listen: DefaultListen, Heartbeat: DefaultHeartbeat, SessionTTL: DefaultSessionTTL}
}

// Validate reports the first setting the API cannot start with. It does
// not look at the environment: New does.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("api.listen %q: want host:port: %w", c.Listen, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("api.metrics_listen %q: want host:port: %w", c.MetricsListen, err)
		}
		if c.MetricsListen == c.Listen {
			return errors.New("api.metrics_listen must differ from api.listen (leave it empty to serve /metrics on api.listen)")
		}
	}
	if c.Heartbeat < 0 {
		return fmt.Errorf("api.heartbeat %v: must not be negative (0: %v)", c.Heartbeat, DefaultHeartbeat)
	}
	if c.SessionKeyEnv != "" && !validEnvName(c.SessionKeyEnv) {
		return fmt.Errorf("api.session_key_env %q: want the name of the environment variable holding the key", c.SessionKeyEnv)
	}
	if c.SessionTTL < 0 || c.SessionTTL > maxSessionTTL || c.SessionTTL > 0 && c.SessionTTL < time.Minute {
		return fmt.Errorf("api.session_ttl %v: want 1m to %v (0: %v)", c.SessionTTL, maxSessionTTL, DefaultSessionTTL)
	}
	names := map[string]bool{}
	for i, t := range c.Tokens {
		where := fmt.Sprintf("api.tokens[%d]", i)
		if !validName(t.Name) {
			return fmt.Errorf("%s.name %q: want 1 to 64 letters, digits, . _ @ -", where, t.Name)
		}
		if names[t.Name] {
			return fmt.Errorf("%s.name %q: used twice", where, t.Name)
		}
		names[t.Name] = true
		if _, ok := roleNames[t.Role]; !ok {
			return fmt.Errorf("%s.role %q: want agent, supervisor or admin", where, t.Role)
		}
		if t.Value == "" && !validEnvName(t.TokenEnv) {
			return fmt.Errorf("%s.token_env %q: want the name of the environment variable holding the token", where, t.TokenEnv)
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '@' || r == '-') {
			return false
		}
	}
	return true
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 128 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
