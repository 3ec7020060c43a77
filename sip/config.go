package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the sip section of Hotline's configuration file.
type Config struct {
	// Listen is where SIP is served, each "transport:host:port" with
	// transport udp or tcp; port 0 picks a free port (read it back with
	// Server.Addr). Default ["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"].
	Listen []string `yaml:"listen"`
	// ExternalAddr is the IP address the far end must use to reach us,
	// written in Contact and in the SDP c= line; set it behind NAT.
	// Default "": the address of the interface that routes to the caller.
	ExternalAddr string `yaml:"external_addr"`
	// UserAgent names us in User-Agent and Server headers and is the default
	// digest realm. Default "Hotline".
	UserAgent string `yaml:"user_agent"`
	// RTPBindAddr is the local address RTP sockets bind to. Default "0.0.0.0".
	RTPBindAddr string `yaml:"rtp_bind_addr"`
	// RTPPortMin and RTPPortMax bound the UDP ports used for RTP (each call
	// takes an even port for RTP and the next one for RTCP).
	// Default 10000 and 20000.
	RTPPortMin int `yaml:"rtp_port_min"`
	RTPPortMax int `yaml:"rtp_port_max"`
	// RTPTimeout ends a call when no RTP has arrived for this long while we
	// expect to receive (not while the caller holds). 0 disables it.
	// Default 30s.
	RTPTimeout time.Duration `yaml:"rtp_timeout"`
	// DrainTime is how long Shutdown lets calls in progress finish before
	// it hangs them up. Default 30s.
	DrainTime time.Duration `yaml:"drain_time"`
	// RingTime is how long a call rings (180 Ringing) before it is
	// answered, for a PBX or carrier that wants the caller to hear ringback
	// first; the caller may CANCEL meanwhile. Default 0: answer at once.
	RingTime time.Duration `yaml:"ring_time"`
	// MaxCalls caps concurrent calls; INVITEs beyond it get 503.
	// Default 0: no cap other than the RTP port range.
	MaxCalls int `yaml:"max_calls"`
	// Trunks are the peers allowed to send us requests; a request from an
	// address no trunk allows gets 403. The first trunk whose allow list
	// matches the source address takes the request. Default: one trunk
	// "local" allowing 127.0.0.0/8 and ::1, without authentication.
	Trunks []TrunkConfig `yaml:"trunks"`
	// Agents are the SIP phones allowed to REGISTER, each with its digest
	// credentials. REGISTER is authenticated by these credentials, not by
	// the trunk allow lists, so a phone may register from any address.
	// Default: none, and REGISTER is refused like any other method.
	Agents []AgentConfig `yaml:"agents"`
	// RegisterMinExpires is the shortest registration accepted; a shorter
	// one gets 423 Interval Too Brief. Default (and 0) 60s.
	RegisterMinExpires time.Duration `yaml:"register_min_expires"`
	// RegisterMaxExpires caps a registration's lifetime, and is the
	// lifetime given when a REGISTER asks for none. Default (and 0) 1h.
	RegisterMaxExpires time.Duration `yaml:"register_max_expires"`
}

// AgentConfig is one agent's SIP account, registered as sip:User@Hotline.
type AgentConfig struct {
	// User is the user part of the agent's address of record, and the
	// digest username. Required, unique.
	User string `yaml:"user"`
	// PasswordEnv names the environment variable holding the digest
	// password; required. The password never appears in the configuration
	// file or in logs.
	PasswordEnv string `yaml:"password_env"`
}

// TrunkConfig is one SIP peer: a carrier, an SBC, a PBX, a softphone.
type TrunkConfig struct {
	// Name identifies the trunk in logs and on the Call. Required, unique.
	Name string `yaml:"name"`
	// Allow lists the source addresses accepted: IP addresses ("10.0.0.5",
	// "::1") or CIDR prefixes ("192.0.2.0/24"). Required.
	Allow []string `yaml:"allow"`
	// Username turns on digest authentication of INVITEs for this trunk.
	// Default "": source address only.
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the digest
	// password; required with Username. The password never appears in the
	// configuration file or in logs.
	PasswordEnv string `yaml:"password_env"`
	// Realm is the digest realm. Default: the user agent name.
	Realm string `yaml:"realm"`
	// OutboundUsername is the digest username Hotline answers this trunk's
	// 401 or 407 with when it dials through it (DialRequest.Trunk).
	// Default "": calls through the trunk carry no credentials.
	OutboundUsername string `yaml:"outbound_username"`
	// OutboundPasswordEnv names the environment variable holding the
	// password for OutboundUsername; required with it.
	OutboundPasswordEnv string `yaml:"outbound_password_env"`
}

// DefaultConfig returns the sip section used when the file gives none.
func DefaultConfig() Config {
	return Config{
		Listen:      []string{"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"},
		UserAgent:   "Hotline",
		RTPBindAddr: "0.0.0.0",
		RTPPortMin:  10000,
		RTPPortMax:  20000,
		RTPTimeout:  30 * time.Second,
		DrainTime:   30 * time.Second,
		Trunks: []TrunkConfig{{
			Name:  "local",
			Allow: []string{"127.0.0.0/8", "::1"},
		}},
		RegisterMinExpires: 60 * time.Second,
		RegisterMaxExpires: time.Hour,
	}
}

// Validate reports the first setting the SIP server cannot run with.
func (c Config) Validate() error {
	if len(c.Listen) == 0 {
		return errors.New("listen: at least one address is required")
	}
	for i, l := range c.Listen {
		if _, _, err := parseListen(l); err != nil {
			return fmt.Errorf("listen[%d] %q: %w", i, l, err)
		}
	}
	if c.ExternalAddr != "" {
		if _, err := netip.ParseAddr(c.ExternalAddr); err != nil {
			return fmt.Errorf("external_addr %q: want an IP address", c.ExternalAddr)
		}
	}
	if strings.TrimSpace(c.UserAgent) == "" || strings.ContainsFunc(c.UserAgent, unprintable) || strings.ContainsAny(c.UserAgent, "\"\\") {
		return fmt.Errorf("user_agent %q: want printable text without quotes", c.UserAgent)
	}
	if _, err := netip.ParseAddr(c.RTPBindAddr); err != nil {
		return fmt.Errorf("rtp_bind_addr %q: want an IP address", c.RTPBindAddr)
	}
	if c.RTPPortMin < 1024 || c.RTPPortMax > 65535 || c.RTPPortMin >= c.RTPPortMax {
		return fmt.Errorf("rtp_port_min %d, rtp_port_max %d: want 1024 <= min < max <= 65535",
			c.RTPPortMin, c.RTPPortMax)
	}
	if c.RTPTimeout < 0 {
		return fmt.Errorf("rtp_timeout %s: must not be negative", c.RTPTimeout)
	}
	if c.DrainTime < 0 {
		return fmt.Errorf("drain_time %s: must not be negative", c.DrainTime)
	}
	if c.RingTime < 0 {
		return fmt.Errorf("ring_time %s: must not be negative", c.RingTime)
	}
	if c.MaxCalls < 0 {
		return fmt.Errorf("max_calls %d: must not be negative", c.MaxCalls)
	}
	if len(c.Trunks) == 0 {
		return errors.New("trunks: at least one trunk is required, or every request gets 403")
	}
	names := make(map[string]bool, len(c.Trunks))
	for i, t := range c.Trunks {
		if err := t.validate(); err != nil {
			return fmt.Errorf("trunks[%d]: %w", i, err)
		}
		if names[t.Name] {
			return fmt.Errorf("trunks[%d]: name %q is used twice", i, t.Name)
		}
		names[t.Name] = true
	}
	if lo, hi := c.registerExpires(); lo < time.Second || hi < lo {
		return fmt.Errorf("register_min_expires %s, register_max_expires %s: want 1s <= min <= max",
			c.RegisterMinExpires, c.RegisterMaxExpires)
	}
	users := make(map[string]bool, len(c.Agents))
	for i, a := range c.Agents {
		if err := a.validate(); err != nil {
			return fmt.Errorf("agents[%d]: %w", i, err)
		}
		if users[a.User] {
			return fmt.Errorf("agents[%d]: user %q is listed twice", i, a.User)
		}
		users[a.User] = true
	}
	return nil
}

// registerExpires is the registration lifetime bounds, a zero setting
// standing for its default.
func (c Config) registerExpires() (lo, hi time.Duration) {
	lo, hi = c.RegisterMinExpires, c.RegisterMaxExpires
	if lo == 0 {
		lo = 60 * time.Second
	}
	if hi == 0 {
		hi = max(time.Hour, lo)
	}
	return lo, hi
}

func (a AgentConfig) validate() error {
	if a.User == "" || strings.ContainsFunc(a.User, unprintable) || strings.ContainsAny(a.User, " \t@:;<>\"\\") {
		return fmt.Errorf("user %q: want the user part of a SIP address", a.User)
	}
	if a.PasswordEnv == "" {
		return fmt.Errorf("agent %q: password_env must name the variable that holds the password", a.User)
	}
	if os.Getenv(a.PasswordEnv) == "" {
		return fmt.Errorf("agent %q: environment variable %s (password_env) is empty or unset", a.User, a.PasswordEnv)
	}
	return nil
}

func unprintable(r rune) bool { return r < 0x20 || r == 0x7f }

func (t TrunkConfig) validate() error {
	if strings.TrimSpace(t.Name) == "" {
		return errors.New("name must not be empty")
	}
	if len(t.Allow) == 0 {
		return fmt.Errorf("trunk %q: allow must list at least one address or prefix", t.Name)
	}
	for _, a := range t.Allow {
		if _, err := parseAllow(a); err != nil {
			return fmt.Errorf("trunk %q: allow %q: %w", t.Name, a, err)
		}
	}
	if strings.ContainsFunc(t.Realm, unprintable) || strings.ContainsAny(t.Realm, "\"\\") {
		return fmt.Errorf("trunk %q: realm %q: want printable text without quotes", t.Name, t.Realm)
	}
	switch {
	case t.Username == "" && t.PasswordEnv != "":
		return fmt.Errorf("trunk %q: password_env needs a username", t.Name)
	case t.Username != "" && t.PasswordEnv == "":
		return fmt.Errorf("trunk %q: username needs password_env naming the variable that holds the password", t.Name)
	case t.Username != "" && os.Getenv(t.PasswordEnv) == "":
		return fmt.Errorf("trunk %q: environment variable %s (password_env) is empty or unset", t.Name, t.PasswordEnv)
	case t.OutboundUsername == "" && t.OutboundPasswordEnv != "":
		return fmt.Errorf("trunk %q: outbound_password_env needs an outbound_username", t.Name)
	case t.OutboundUsername != "" && t.OutboundPasswordEnv == "":
		return fmt.Errorf("trunk %q: outbound_username needs outbound_password_env naming the variable that holds the password", t.Name)
	case t.OutboundUsername != "" && os.Getenv(t.OutboundPasswordEnv) == "":
		return fmt.Errorf("trunk %q: environment variable %s (outbound_password_env) is empty or unset", t.Name, t.OutboundPasswordEnv)
	}
	return nil
}

// parseListen splits "udp:0.0.0.0:5060" into its transport and host:port.
func parseListen(s string) (transport, addr string, err error) {
	transport, addr, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New(`want "transport:host:port", for example "udp:0.0.0.0:5060"`)
	}
	transport = strings.ToLower(transport)
	if transport != "udp" && transport != "tcp" {
		return "", "", fmt.Errorf("transport %q: want udp or tcp", transport)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("address: %w", err)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Errorf("host %q: want an IP address", host)
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", "", fmt.Errorf("port %q: want 0-65535", port)
	}
	return transport, addr, nil
}

// parseAllow reads an allow entry: a CIDR prefix or a single address.
func parseAllow(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("want an IP address or CIDR prefix")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("want an IP address or CIDR prefix")
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}
