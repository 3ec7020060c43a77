package bank_test

import (
	"testing"

	"github.com/hotline-cc/hotline/examples/bank"
	"github.com/hotline-cc/hotline/knowledge"
)

// The sample built into the binary is what `hotline serve` answers with:
// its flow must parse and its twenty articles load.
func TestSampleLoads(t *testing.T) {
	flow, err := bank.RuleFlow()
	if err != nil {
		t.Fatalf("sample flow: %v", err)
	}
	if len(flow.Intents) < 10 {
		t.Errorf("sample flow has %d intents, want about ten", len(flow.Intents))
	}
	kb, err := knowledge.LoadFS(bank.Knowledge())
	if err != nil {
		t.Fatalf("sample knowledge: %v", err)
	}
	docs := map[string]bool{}
	for _, q := range []string{"opening hours", "lost card", "营业时间", "international transfer fees"} {
		ps := kb.Search(q, 1)
		if len(ps) == 0 {
			t.Errorf("%q finds nothing in the sample", q)
			continue
		}
		docs[ps[0].Doc] = true
	}
	if len(docs) != 4 {
		t.Errorf("four questions found %d distinct articles", len(docs))
	}
	all := kb.Search("card account transfer fees hours loan app fraud pin 银行 转账 营业", 100)
	seen := map[string]bool{}
	for _, p := range all {
		seen[p.Doc] = true
	}
	if len(seen) < 20 {
		t.Errorf("the sample has %d articles, want twenty", len(seen))
	}
}
