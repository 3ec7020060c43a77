package server

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/dialog/llm"
	"github.com/hotline-cc/hotline/dialog/rules"
	"github.com/hotline-cc/hotline/examples/bank"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/metrics"
)

// newConversation builds the dialog the configuration asks for: the rule
// brain on its flow and knowledge, and the LLM brain in front of it when
// configured. With no flow or knowledge configured, the sample bank's,
// built into the binary, answer; its articles cannot be changed. A
// knowledge folder is live: the returned Live follows its changes once
// watched, and the API writes articles into it. The rule brain is returned
// too: the review teaches its intents new phrases.
func newConversation(cfg config.Config, menu *ivr.Menu, m *metrics.Metrics, log *slog.Logger) (*ivr.Conversation, *knowledge.Live, *rules.Brain, error) {
	d := cfg.Dialog
	var flow *rules.Flow
	var err error
	if d.Flow == "" {
		var b []byte
		if b, err = bank.Flow(); err == nil {
			flow, err = rules.ParseFlow(b)
		}
	} else {
		flow, err = rules.LoadFlow(d.Flow)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dialog flow: %w", err)
	}
	var kb *knowledge.Live
	if d.Knowledge == "" {
		kb, err = knowledge.LiveFS(bank.Knowledge())
	} else {
		kb, err = knowledge.LoadLive(d.Knowledge)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dialog knowledge: %w", err)
	}
	lc := cfg.LLM
	if len(lc.Queues) == 0 {
		lc.Queues = cfg.Routing.Destinations()
	}
	named := append(flow.Queues(), d.HumanQueue, d.CrisisQueue)
	if d.Brain == dialog.BrainLLM {
		named = append(named, lc.Queues...)
	}
	if err := knownQueues(named, cfg.Routing.Destinations()); err != nil {
		return nil, nil, nil, err
	}
	ruleBrain := rules.New(flow, kb)
	var primary, fallback dialog.Brain = ruleBrain, nil
	if d.Brain == dialog.BrainLLM {
		b, err := llm.New(lc, llm.Deps{Knowledge: kb, Metrics: m}, log)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("llm: %w", err)
		}
		primary, fallback = b, ruleBrain
	}
	dm, err := dialog.NewManager(d, primary, fallback)
	if err != nil {
		return nil, nil, nil, err
	}
	log.Info("dialog", "brain", primary.Name(), "flow", flow.Name, "knowledge_sections", kb.Len())
	conv, err := ivr.NewConversation(menu, dm)
	return conv, kb, ruleBrain, err
}

// knownQueues reports the queues the dialog may transfer to that routing
// does not have: a transfer there would find no agents.
func knownQueues(named, have []string) error {
	var unknown []string
	for _, q := range named {
		if !slices.Contains(have, q) && !slices.Contains(unknown, q) {
			unknown = append(unknown, q)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("dialog: queues %s are not in routing.queues or routing.external (%s)",
			strings.Join(unknown, ", "), strings.Join(have, ", "))
	}
	return nil
}
