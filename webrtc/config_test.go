package webrtc

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := map[string]func(*Config){
		"stun":   func(c *Config) { c.STUNServers = []string{"http://stun.example"} },
		"nat":    func(c *Config) { c.NAT1To1IPs = []string{"not-an-ip"} },
		"range":  func(c *Config) { c.UDPPortMin, c.UDPPortMax = 20000, 10000 },
		"half":   func(c *Config) { c.UDPPortMin = 10000 },
		"opus":   func(c *Config) { c.Codecs = []string{"opus"} },
		"none":   func(c *Config) { c.Codecs = nil },
		"origin": func(c *Config) { c.AllowedOrigins = []string{"example.com"} },
		"small":  func(c *Config) { c.MaxMessageBytes = 100 },
		"rate":   func(c *Config) { c.CallRate = 0 },
		"resume": func(c *Config) { c.ResumeWindow = -1 },
	}
	for name, mutate := range bad {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "webrtc: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	good := DefaultConfig()
	good.STUNServers = []string{"stun:stun.example.net:3478"}
	good.NAT1To1IPs = []string{"203.0.113.7"}
	good.UDPPortMin, good.UDPPortMax = 40000, 40100
	good.AllowedOrigins = []string{"https://hotline.example", "*"}
	if err := good.Validate(); err != nil {
		t.Errorf("good: %v", err)
	}
	// Every setting reaches pion without complaint.
	_ = settingEngine(good)
}
