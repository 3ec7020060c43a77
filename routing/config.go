package routing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is the routing section of Hotline's configuration file: the agents,
// the queues and how calls are paired with agents.
type Config struct {
	// Strategy picks among the free agents who can take a call, for queues
	// that do not name their own: longest_idle or round_robin.
	// Default longest_idle.
	Strategy Strategy `yaml:"strategy"`
	// RingTimeout is how long an agent's phone rings before the call is
	// offered to the next agent. Default 20s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// WrapUp is how long an agent stays in wrap-up after a call, for notes,
	// before taking the next. Default 30s.
	WrapUp time.Duration `yaml:"wrap_up"`
	// MaxMissed is how many calls in a row an agent may leave ringing
	// before they are made not ready ("missed calls"). Default 2.
	MaxMissed int `yaml:"max_missed"`
	// HandleTime is the handle time (talk and wrap-up) assumed for the
	// estimated wait until a queue has handled calls of its own.
	// Default 3m.
	HandleTime time.Duration `yaml:"handle_time"`
	// VIP routes the customers of the VIP directory.
	VIP VIPConfig `yaml:"vip"`
	// Agents are the people who take calls. Default none.
	Agents []AgentConfig `yaml:"agents"`
	// External are destinations outside Hotline a call may be transferred
	// to by name, like a queue: another contact center, a partner's line.
	// Default none.
	External []ExternalConfig `yaml:"external"`
	// Queues are where calls wait for agents. Default the sample hotline's:
	// general, cards, accounts, loans, fraud, complaints and crisis, each
	// served by every agent.
	Queues []QueueConfig `yaml:"queues"`
}

// VIPConfig routes calls from the customers in the VIP directory: their own
// advisor first, then the VIP queue, then the queue they were sent to.
type VIPConfig struct {
	// Directory is the CSV file of VIP customers (number, name, tier,
	// advisor). Default "": no directory.
	Directory string `yaml:"directory"`
	// Queue is the queue VIP calls wait in after the advisor stage.
	// Default "": straight on to the queue the call was sent to.
	Queue string `yaml:"queue"`
	// AdvisorWait is how long a VIP call waits for its advisor to be free
	// when the advisor is busy. Default 20s.
	AdvisorWait time.Duration `yaml:"advisor_wait"`
	// QueueWait is how long a VIP call waits in the VIP queue before the
	// agents of its own queue may take it too. Default 60s.
	QueueWait time.Duration `yaml:"queue_wait"`
}

// AgentConfig is one agent.
type AgentConfig struct {
	// ID identifies the agent everywhere: state changes, the directory's
	// advisor column, the agent's phone. Required, unique.
	ID string `yaml:"id"`
	// Name is shown to supervisors. Default: the id.
	Name string `yaml:"name"`
	// Skills are the agent's skills with a level from 1 to 10.
	Skills map[string]int `yaml:"skills"`
	// VIPAdvisor lets the directory name this agent as a customer's
	// dedicated advisor.
	VIPAdvisor bool `yaml:"vip_advisor"`
}

// QueueConfig is one queue.
type QueueConfig struct {
	// Name identifies the queue. Required, unique.
	Name string `yaml:"name"`
	// Skills the queue's agents need, each with its minimum level (1 to 10).
	// Default none: every agent serves the queue.
	Skills map[string]int `yaml:"skills"`
	// Strategy overrides the routing strategy for this queue.
	Strategy Strategy `yaml:"strategy"`
	// RingTimeout overrides ring_timeout for this queue.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// WrapUp overrides wrap_up for this queue; 0s means no wrap-up.
	WrapUp *time.Duration `yaml:"wrap_up"`
	// MaxWait is how long a call may wait before Overflow applies.
	// Default 0: it waits until answered or abandoned.
	MaxWait time.Duration `yaml:"max_wait"`
	// Overflow is what becomes of a call that waited MaxWait.
	Overflow OverflowConfig `yaml:"overflow"`
	// AnnounceEvery is how often a waiting caller hears their position
	// and estimated wait. Default 30s; 0s never.
	AnnounceEvery *time.Duration `yaml:"announce_every"`
}

// ExternalConfig is a destination outside Hotline.
type ExternalConfig struct {
	// Name is what the dialog transfers to, as it names a queue. Required,
	// unique among queues and destinations.
	Name string `yaml:"name"`
	// URI is the SIP URI called: "sip:+15550100@carrier.example".
	URI string `yaml:"uri"`
	// Trunk names the SIP trunk whose credentials answer the carrier's
	// challenge. Default "": none.
	Trunk string `yaml:"trunk"`
	// Refer asks the caller's side to make the call itself (a SIP REFER,
	// blind transfer), so Hotline leaves the call; when the trunk refuses,
	// or for browser callers, Hotline calls the destination and bridges
	// the caller in. Default false: always call and bridge.
	Refer bool `yaml:"refer"`
}

// ExternalDestination returns the destination called name, if there is one.
func (c Config) ExternalDestination(name string) (ExternalConfig, bool) {
	for _, x := range c.External {
		if x.Name == name {
			return x, true
		}
	}
	return ExternalConfig{}, false
}

// OverflowConfig is a queue's overflow.
type OverflowConfig struct {
	// Action is queue, voicemail or callback. Default voicemail.
	Action OverflowAction `yaml:"action"`
	// Queue is where the call goes with action queue.
	Queue string `yaml:"queue"`
}

// DefaultConfig returns the routing section used when the file gives none.
func DefaultConfig() Config {
	return Config{
		Strategy:    LongestIdle,
		RingTimeout: 20 * time.Second,
		WrapUp:      30 * time.Second,
		MaxMissed:   2,
		HandleTime:  3 * time.Minute,
		VIP:         VIPConfig{AdvisorWait: 20 * time.Second, QueueWait: 60 * time.Second},
		// The sample hotline's queues: the dialog transfers to them.
		Queues: []QueueConfig{{Name: "general"}, {Name: "cards"}, {Name: "accounts"}, {Name: "loans"},
			{Name: "fraud"}, {Name: "complaints"}, {Name: "crisis"}},
	}
}

// Destinations are the names a call may be transferred to: the queues',
// then the outside destinations', in order.
func (c Config) Destinations() []string {
	names := make([]string, 0, len(c.Queues)+len(c.External))
	for _, q := range c.Queues {
		names = append(names, q.Name)
	}
	for _, x := range c.External {
		names = append(names, x.Name)
	}
	return names
}

const defaultAnnounceEvery = 30 * time.Second

// Queue returns the named queue with the section's defaults filled in: its
// ring timeout and announcement interval as the distributor applies them.
func (c Config) Queue(name string) (QueueConfig, bool) {
	for _, q := range c.Queues {
		if q.Name == name {
			return c.queueDefaults(q), true
		}
	}
	return QueueConfig{}, false
}

// queueDefaults fills what q leaves to the section-wide settings.
func (c Config) queueDefaults(q QueueConfig) QueueConfig {
	if q.Strategy == "" {
		q.Strategy = c.Strategy
	}
	if q.RingTimeout == 0 {
		q.RingTimeout = c.RingTimeout
	}
	if q.WrapUp == nil {
		q.WrapUp = &c.WrapUp
	}
	if q.MaxWait > 0 && q.Overflow.Action == "" {
		q.Overflow.Action = OverflowVoicemail
	}
	if q.AnnounceEvery == nil {
		d := defaultAnnounceEvery
		q.AnnounceEvery = &d
	}
	return q
}

// Validate reports the first setting routing cannot run with.
func (c Config) Validate() error {
	if err := c.Strategy.validate(); err != nil {
		return fmt.Errorf("strategy: %w", err)
	}
	if c.RingTimeout <= 0 {
		return fmt.Errorf("ring_timeout %s: must be positive", c.RingTimeout)
	}
	if c.WrapUp < 0 {
		return fmt.Errorf("wrap_up %s: must not be negative", c.WrapUp)
	}
	if c.MaxMissed < 1 {
		return fmt.Errorf("max_missed %d: must be at least 1", c.MaxMissed)
	}
	if c.HandleTime <= 0 {
		return fmt.Errorf("handle_time %s: must be positive", c.HandleTime)
	}
	if c.VIP.AdvisorWait < 0 || c.VIP.QueueWait < 0 {
		return fmt.Errorf("vip: advisor_wait %s, queue_wait %s: must not be negative", c.VIP.AdvisorWait, c.VIP.QueueWait)
	}
	agents := make(map[string]bool, len(c.Agents))
	for i, a := range c.Agents {
		if a.ID == "" {
			return fmt.Errorf("agents[%d]: id is required", i)
		}
		if agents[a.ID] {
			return fmt.Errorf("agents[%d]: id %q is used twice", i, a.ID)
		}
		agents[a.ID] = true
		if err := validSkills(a.Skills); err != nil {
			return fmt.Errorf("agents[%d] %q: %w", i, a.ID, err)
		}
	}
	if len(c.Queues) == 0 {
		return errors.New("queues: at least one queue is required")
	}
	queues := make(map[string]bool, len(c.Queues))
	for i, q := range c.Queues {
		if q.Name == "" {
			return fmt.Errorf("queues[%d]: name is required", i)
		}
		if queues[q.Name] {
			return fmt.Errorf("queues[%d]: name %q is used twice", i, q.Name)
		}
		queues[q.Name] = true
	}
	for i, q := range c.Queues {
		if err := c.validateQueue(c.queueDefaults(q), queues); err != nil {
			return fmt.Errorf("queues[%d] %q: %w", i, q.Name, err)
		}
	}
	if c.VIP.Queue != "" && !queues[c.VIP.Queue] {
		return fmt.Errorf("vip.queue %q: no such queue", c.VIP.Queue)
	}
	for i, x := range c.External {
		switch {
		case x.Name == "":
			return fmt.Errorf("external[%d]: name is required", i)
		case queues[x.Name]:
			return fmt.Errorf("external[%d]: name %q is already a queue's or another destination's", i, x.Name)
		case !strings.HasPrefix(x.URI, "sip:") && !strings.HasPrefix(x.URI, "sips:"):
			return fmt.Errorf("external[%d] %q: uri %q: want a sip: URI", i, x.Name, x.URI)
		}
		queues[x.Name] = true
	}
	return nil
}

func (c Config) validateQueue(q QueueConfig, queues map[string]bool) error {
	if err := validSkills(q.Skills); err != nil {
		return err
	}
	if err := q.Strategy.validate(); err != nil {
		return fmt.Errorf("strategy: %w", err)
	}
	if q.RingTimeout < 0 {
		return fmt.Errorf("ring_timeout %s: must not be negative", q.RingTimeout)
	}
	if *q.WrapUp < 0 {
		return fmt.Errorf("wrap_up %s: must not be negative", *q.WrapUp)
	}
	if *q.AnnounceEvery < 0 {
		return fmt.Errorf("announce_every %s: must not be negative", *q.AnnounceEvery)
	}
	if q.MaxWait < 0 {
		return fmt.Errorf("max_wait %s: must not be negative", q.MaxWait)
	}
	if q.MaxWait == 0 {
		return nil
	}
	switch q.Overflow.Action {
	case OverflowVoicemail, OverflowCallback:
	case OverflowQueue:
		if !queues[q.Overflow.Queue] || q.Overflow.Queue == q.Name {
			return fmt.Errorf("overflow.queue %q: want another configured queue", q.Overflow.Queue)
		}
	default:
		return fmt.Errorf("overflow.action %q: want queue, voicemail or callback", q.Overflow.Action)
	}
	return nil
}

func validSkills(skills map[string]int) error {
	for s, lv := range skills {
		if s == "" {
			return errors.New("skills: a skill has no name")
		}
		if lv < 1 || lv > 10 {
			return fmt.Errorf("skills: %s level %d: want 1 to 10", s, lv)
		}
	}
	return nil
}
