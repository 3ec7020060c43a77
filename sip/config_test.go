package sip

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if len(c.Listen) != 2 || c.Listen[0] != "udp:0.0.0.0:5060" || c.Listen[1] != "tcp:0.0.0.0:5060" {
		t.Errorf("listen = %v", c.Listen)
	}
	if c.RTPPortMin != 10000 || c.RTPPortMax != 20000 || c.RTPTimeout != 30*time.Second || c.DrainTime != 30*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if len(c.Trunks) != 1 || c.Trunks[0].Name != "local" {
		t.Fatalf("trunks = %+v", c.Trunks)
	}
	trunks, err := newTrunks(c.Trunks, "Hotline", newNonceKey())
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"127.0.0.1": true, "127.9.9.9": true, "::1": true,
		"::ffff:127.0.0.1": true, "10.0.0.1": false, "::2": false} {
		if got := matchTrunk(trunks, netip.MustParseAddr(addr)) != nil; got != want {
			t.Errorf("local trunk allows %s = %v, want %v", addr, got, want)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	c := DefaultConfig()
	in := `
listen: ["udp:127.0.0.1:5080"]
external_addr: 203.0.113.9
rtp_timeout: 10s
trunks:
  - name: carrier
    allow: [192.0.2.0/24, 198.51.100.7]
`
	if err := yaml.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Listen) != 1 || c.RTPTimeout != 10*time.Second || len(c.Trunks) != 1 || c.Trunks[0].Name != "carrier" {
		t.Errorf("decoded %+v", c)
	}
	if c.DrainTime != 30*time.Second || c.UserAgent != "Hotline" {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Setenv("HOTLINE_TEST_SET", "x")
	for name, tc := range map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no listen":        {func(c *Config) { c.Listen = nil }, "listen"},
		"bad transport":    {func(c *Config) { c.Listen = []string{"sctp:0.0.0.0:5060"} }, "transport"},
		"no transport":     {func(c *Config) { c.Listen = []string{"0.0.0.0"} }, "transport:host:port"},
		"bad port":         {func(c *Config) { c.Listen = []string{"udp:0.0.0.0:99999"} }, "port"},
		"host name":        {func(c *Config) { c.Listen = []string{"udp:sip.example.com:5060"} }, "IP address"},
		"external name":    {func(c *Config) { c.ExternalAddr = "sip.example.com" }, "external_addr"},
		"empty agent":      {func(c *Config) { c.UserAgent = " " }, "user_agent"},
		"agent newline":    {func(c *Config) { c.UserAgent = "a\r\nb" }, "user_agent"},
		"bad rtp bind":     {func(c *Config) { c.RTPBindAddr = "any" }, "rtp_bind_addr"},
		"ports reversed":   {func(c *Config) { c.RTPPortMin, c.RTPPortMax = 20000, 10000 }, "rtp_port_min"},
		"ports privileged": {func(c *Config) { c.RTPPortMin = 80 }, "rtp_port_min"},
		"negative timeout": {func(c *Config) { c.RTPTimeout = -time.Second }, "rtp_timeout"},
		"negative drain":   {func(c *Config) { c.DrainTime = -time.Second }, "drain_time"},
		"negative ring":    {func(c *Config) { c.RingTime = -time.Second }, "ring_time"},
		"negative max":     {func(c *Config) { c.MaxCalls = -1 }, "max_calls"},
		"no trunks":        {func(c *Config) { c.Trunks = nil }, "trunks"},
		"unnamed trunk":    {func(c *Config) { c.Trunks[0].Name = "" }, "name"},
		"duplicate trunk": {func(c *Config) {
			c.Trunks = append(c.Trunks, TrunkConfig{Name: "local", Allow: []string{"10.0.0.1"}})
		}, "used twice"},
		"empty allow":   {func(c *Config) { c.Trunks[0].Allow = nil }, "allow"},
		"bad allow":     {func(c *Config) { c.Trunks[0].Allow = []string{"10.0.0.0/33"} }, "allow"},
		"name in allow": {func(c *Config) { c.Trunks[0].Allow = []string{"pbx.local"} }, "allow"},
		"user no env":   {func(c *Config) { c.Trunks[0].Username = "alice" }, "password_env"},
		"env no user":   {func(c *Config) { c.Trunks[0].PasswordEnv = "HOTLINE_TEST_SET" }, "username"},
		"env unset": {func(c *Config) {
			c.Trunks[0].Username, c.Trunks[0].PasswordEnv = "alice", "HOTLINE_TEST_UNSET_VAR"
		}, "HOTLINE_TEST_UNSET_VAR"},
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q starts with a capital", err)
			}
		})
	}
	c := DefaultConfig()
	c.Trunks[0].Username, c.Trunks[0].PasswordEnv = "alice", "HOTLINE_TEST_SET"
	if err := c.Validate(); err != nil {
		t.Errorf("trunk with credentials: %v", err)
	}
}
