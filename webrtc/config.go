package webrtc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// Config is the webrtc section of Hotline's configuration file: browser
// legs, their ICE and the WebSocket signaling that sets them up.
type Config struct {
	// Listen is the address the caller page and its signaling are served
	// on. Browsers give a page the microphone only over https or on
	// localhost: put a TLS proxy in front for callers elsewhere. Empty:
	// no browser calls. Default 127.0.0.1:8081.
	Listen string `yaml:"listen"`
	// STUNServers are "stun:host:port" URLs the server asks for its public
	// address (server-reflexive candidates). Default none: host candidates
	// only, which suits a server with a public address or NAT1To1IPs.
	STUNServers []string `yaml:"stun_servers"`
	// NAT1To1IPs are the public addresses of a 1:1 NAT in front of the
	// server; they replace the private addresses in the host candidates.
	// Default none.
	NAT1To1IPs []string `yaml:"nat_1to1_ips"`
	// UDPPortMin and UDPPortMax bound the UDP ports ICE binds for media.
	// Default 0 and 0: ports the kernel picks.
	UDPPortMin uint16 `yaml:"udp_port_min"`
	UDPPortMax uint16 `yaml:"udp_port_max"`
	// Interfaces limits ICE to these network interfaces ("eth0").
	// Default none: every interface that is up.
	Interfaces []string `yaml:"interfaces"`
	// LoopbackOnly gathers and accepts loopback candidates only, so a
	// browser on the same machine reaches the server over 127.0.0.1: for
	// development and tests. Default false.
	LoopbackOnly bool `yaml:"loopback_only"`
	// Codecs are the G.711 codecs accepted, in order of preference: the
	// first one the page offers is answered. Default ["PCMU", "PCMA"].
	// Opus is never answered: Hotline has no Go Opus codec.
	Codecs []string `yaml:"codecs"`
	// AllowedOrigins lists the page origins ("https://example.com") whose
	// scripts may open the signaling socket; "*" allows any. Default none:
	// same origin only. Clients that send no Origin (not browsers) pass.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxMessageBytes is the largest signaling message answered normally;
	// a bigger one gets an error reply. Default 32768 (an SDP offer from a
	// browser is 3-8 KB). Four times it closes the socket.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxErrors is how many bad messages a socket may send before it is
	// closed with code 1008 (policy violation). Default 5.
	MaxErrors int `yaml:"max_errors"`
	// MessageRate and MessageBurst bound the messages per second one socket
	// may send (a token bucket); excess messages count as errors.
	// Default 20 and 60 (a browser trickles a dozen candidates at once).
	MessageRate  float64 `yaml:"message_rate"`
	MessageBurst int     `yaml:"message_burst"`
	// CallRate and CallBurst bound the anonymous calls one remote address
	// may start per second (a token bucket); excess gets HTTP 429.
	// Default 0.2 (one every five seconds) and 5.
	CallRate  float64 `yaml:"call_rate"`
	CallBurst int     `yaml:"call_burst"`
	// MaxCalls caps concurrent browser calls; more get HTTP 503. Default 200.
	MaxCalls int `yaml:"max_calls"`
	// PingInterval is how often the server pings the socket; a socket that
	// answers nothing (no pong, no message) for PingInterval+PongTimeout
	// is dead. Default 15s and 10s.
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	// WriteTimeout bounds one write to the socket. Default 5s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// OfferTimeout is how long a new socket may take to send its offer.
	// Default 10s.
	OfferTimeout time.Duration `yaml:"offer_timeout"`
	// ConnectTimeout is how long ICE and DTLS may take to connect after the
	// answer, and how long a connection that dropped may take to recover.
	// Default 15s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ResumeWindow is how long a call outlives its signaling socket: media
	// keeps flowing, and the page may reconnect and present the call's
	// session and token to take it up again. 0 ends the call with its
	// socket. Default 10s.
	ResumeWindow time.Duration `yaml:"resume_window"`
}

// DefaultConfig returns the webrtc section used when the file gives none.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:8081",
		Codecs:          []string{"PCMU", "PCMA"},
		MaxMessageBytes: 32 << 10,
		MaxErrors:       5,
		MessageRate:     20,
		MessageBurst:    60,
		CallRate:        0.2,
		CallBurst:       5,
		MaxCalls:        200,
		PingInterval:    15 * time.Second,
		PongTimeout:     10 * time.Second,
		WriteTimeout:    5 * time.Second,
		OfferTimeout:    10 * time.Second,
		ConnectTimeout:  15 * time.Second,
		ResumeWindow:    10 * time.Second,
	}
}

// Validate reports the first setting browser legs cannot run with.
func (c Config) Validate() error {
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("webrtc: listen %q: want host:port: %w", c.Listen, err)
		}
	}
	for _, s := range c.STUNServers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "stun" && u.Scheme != "stuns") || u.Opaque == "" {
			return fmt.Errorf("webrtc: stun server %q is not a stun:host:port URL", s)
		}
	}
	for _, ip := range c.NAT1To1IPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("webrtc: nat_1to1_ips: %w", err)
		}
	}
	if (c.UDPPortMin == 0) != (c.UDPPortMax == 0) || c.UDPPortMin > c.UDPPortMax {
		return fmt.Errorf("webrtc: udp port range %d-%d is not a range", c.UDPPortMin, c.UDPPortMax)
	}
	if len(c.Codecs) == 0 {
		return errors.New("webrtc: codecs is empty")
	}
	for _, name := range c.Codecs {
		if _, ok := media.CodecByName(name); !ok {
			return fmt.Errorf("webrtc: codec %q is not supported (PCMU, PCMA; no Opus codec is built in)", name)
		}
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("webrtc: allowed origin %q is not scheme://host[:port]", o)
		}
	}
	switch {
	case c.MaxMessageBytes < 4096:
		return fmt.Errorf("webrtc: max_message_bytes %d is under 4096; offers would not fit", c.MaxMessageBytes)
	case c.MaxErrors < 1:
		return errors.New("webrtc: max_errors must be at least 1")
	case c.MessageRate <= 0 || c.MessageBurst < 1:
		return errors.New("webrtc: message_rate and message_burst must be positive")
	case c.CallRate <= 0 || c.CallBurst < 1:
		return errors.New("webrtc: call_rate and call_burst must be positive")
	case c.MaxCalls < 1:
		return errors.New("webrtc: max_calls must be at least 1")
	case c.PingInterval <= 0 || c.PongTimeout <= 0 || c.WriteTimeout <= 0:
		return errors.New("webrtc: ping_interval, pong_timeout and write_timeout must be positive")
	case c.OfferTimeout <= 0 || c.ConnectTimeout <= 0:
		return errors.New("webrtc: offer_timeout and connect_timeout must be positive")
	case c.ResumeWindow < 0:
		return errors.New("webrtc: resume_window is negative")
	}
	return nil
}

// codecs is the accepted codecs in order; Validate has checked the names.
func (c Config) codecs() []media.Codec {
	out := make([]media.Codec, 0, len(c.Codecs))
	for _, name := range c.Codecs {
		codec, _ := media.CodecByName(name)
		out = append(out, codec)
	}
	return out
}
