package server

import (
	"fmt"
	"log/slog"

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
// built into the binary, answer.
func newConversation(cfg config.Config, menu *ivr.Menu, m *metrics.Metrics, log *slog.Logger) (*ivr.Conversation, error) {
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
		return nil, fmt.Errorf("dialog flow: %w", err)
	}
	var kb *knowledge.Base
	if d.Knowledge == "" {
		kb, err = knowledge.LoadFS(bank.Knowledge())
	} else {
		kb, err = knowledge.Load(d.Knowledge)
	}
	if err != nil {
		return nil, fmt.Errorf("dialog knowledge: %w", err)
	}
	ruleBrain := rules.New(flow, kb)
	var primary, fallback dialog.Brain = ruleBrain, nil
	if d.Brain == dialog.BrainLLM {
		b, err := llm.New(cfg.LLM, llm.Deps{Knowledge: kb, Metrics: m}, log)
		if err != nil {
			return nil, fmt.Errorf("llm: %w", err)
		}
		primary, fallback = b, ruleBrain
	}
	dm, err := dialog.NewManager(d, primary, fallback)
	if err != nil {
		return nil, err
	}
	log.Info("dialog", "brain", primary.Name(), "flow", flow.Name, "knowledge_sections", kb.Len())
	return ivr.NewConversation(menu, dm)
}
