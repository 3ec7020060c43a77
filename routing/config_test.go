package routing

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	const doc = `
strategy: round_robin
ring_timeout: 15s
wrap_up: 45s
max_missed: 3
vip:
  directory: vip.csv
  queue: vip
  advisor_wait: 10s
agents:
  - id: vera
    name: Vera
    skills: {vip: 9, english: 10}
    vip_advisor: true
queues:
  - name: general
  - name: vip
    skills: {vip: 5}
    strategy: longest_idle
    wrap_up: 0s
    max_wait: 5m
    overflow: {action: queue, queue: general}
    announce_every: 45s
`
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Strategy != RoundRobin || c.RingTimeout != 15*time.Second || c.MaxMissed != 3 || c.VIP.QueueWait != time.Minute || !c.Agents[0].VIPAdvisor {
		t.Errorf("decoded %+v", c)
	}
	general, vip := c.queueDefaults(c.Queues[0]), c.queueDefaults(c.Queues[1])
	if general.Strategy != RoundRobin || *general.WrapUp != 45*time.Second || general.RingTimeout != 15*time.Second || *general.AnnounceEvery != 30*time.Second {
		t.Errorf("general inherits %+v", general)
	}
	if vip.Strategy != LongestIdle || *vip.WrapUp != 0 || vip.Overflow.Queue != "general" || *vip.AnnounceEvery != 45*time.Second {
		t.Errorf("vip queue %+v", vip)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"strategy", func(c *Config) { c.Strategy = "random" }, "strategy"},
		{"ring timeout", func(c *Config) { c.RingTimeout = 0 }, "ring_timeout"},
		{"max missed", func(c *Config) { c.MaxMissed = 0 }, "max_missed"},
		{"agent id", func(c *Config) { c.Agents = agents("a", "") }, "agents[1]: id"},
		{"agent twice", func(c *Config) { c.Agents = agents("a", "a") }, "used twice"},
		{"skill level", func(c *Config) { c.Agents = []AgentConfig{{ID: "a", Skills: map[string]int{"x": 11}}} }, "level 11"},
		{"no queues", func(c *Config) { c.Queues = nil }, "at least one queue"},
		{"queue twice", func(c *Config) { c.Queues = append(c.Queues, QueueConfig{Name: "general"}) }, "used twice"},
		{"queue skill", func(c *Config) { c.Queues[0].Skills = map[string]int{"x": 0} }, "level 0"},
		{"overflow action", func(c *Config) {
			c.Queues[0].MaxWait = time.Minute
			c.Queues[0].Overflow.Action = "hangup"
		}, "overflow.action"},
		{"overflow to itself", func(c *Config) {
			c.Queues[0].MaxWait = time.Minute
			c.Queues[0].Overflow = OverflowConfig{Action: OverflowQueue, Queue: "general"}
		}, "overflow.queue"},
		{"vip queue", func(c *Config) { c.VIP.Queue = "gold" }, "vip.queue"},
		{"negative wrap-up", func(c *Config) { d := -time.Second; c.Queues[0].WrapUp = &d }, "wrap_up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %s", err, tc.want)
			}
			if _, err := New(c, Options{}); err == nil {
				t.Error("New accepted the configuration")
			}
		})
	}
}

func TestExternalDestinations(t *testing.T) {
	c := DefaultConfig()
	c.External = []ExternalConfig{{Name: "partner", URI: "sip:+15550100@carrier.example", Refer: true}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if x, ok := c.ExternalDestination("partner"); !ok || x.URI != "sip:+15550100@carrier.example" || !x.Refer {
		t.Errorf("partner: %+v %v", x, ok)
	}
	if _, ok := c.ExternalDestination("general"); ok {
		t.Error("a queue is not an external destination")
	}
	for _, bad := range []ExternalConfig{{URI: "sip:x@y"}, {Name: "general", URI: "sip:x@y"}, {Name: "p", URI: "tel:+1555"}} {
		c.External = []ExternalConfig{bad}
		if err := c.Validate(); err == nil {
			t.Errorf("external %+v accepted", bad)
		}
	}
}
