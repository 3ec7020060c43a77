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

// loadKnowledge opens the knowledge base the dialog answers from: the
// configured folder, live (the returned Live follows its changes once
// watched, and the API writes articles into it), or with none configured
// the sample bank's, built into the binary, whose articles cannot be
// changed.
func loadKnowledge(d dialog.Config) (*knowledge.Live, error) {
	var kb *knowledge.Live
	var err error
	if d.Knowledge == "" {
		kb, err = knowledge.LiveFS(bank.Knowledge())
	} else {
		kb, err = knowledge.LoadLive(d.Knowledge)
	}
	if err != nil {
		return nil, fmt.Errorf("dialog knowledge: %w", err)
	}
	return kb, nil
}

// newConversation builds the dialog the configuration asks for on the
// knowledge base kb: the rule brain on its flow (the sample bank's when
// none is configured), and the LLM brain in front of it when configured.
// The rule brain is returned too: the review teaches its intents new
// phrases.
func newConversation(cfg config.Config, menu *ivr.Menu, kb *knowledge.Live, m *metrics.Metrics, log *slog.Logger) (*ivr.Conversation, *rules.Brain, error) {
	d := cfg.Dialog
	var flow *rules.Flow
	var err error
	if d.Flow == "" {
		flow, err = bank.RuleFlow()
	} else {
		flow, err = rules.LoadFlow(d.Flow)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dialog flow: %w", err)
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
		return nil, nil, err
	}
	ruleBrain := rules.New(flow, kb)
	var primary, fallback dialog.Brain = ruleBrain, nil
	if d.Brain == dialog.BrainLLM {
		b, err := llm.New(lc, llm.Deps{Knowledge: kb, Metrics: m}, log)
		if err != nil {
			return nil, nil, fmt.Errorf("llm: %w", err)
		}
		primary, fallback = b, ruleBrain
	}
	dm, err := dialog.NewManager(d, primary, fallback)
	if err != nil {
		return nil, nil, err
	}
	log.Info("dialog", "brain", primary.Name(), "flow", flow.Name, "knowledge_sections", kb.Len())
	conv, err := ivr.NewConversation(menu, dm)
	return conv, ruleBrain, err
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
