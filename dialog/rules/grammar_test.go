package rules

import (
	"os"
	"testing"

	"github.com/hotline-cc/hotline/asr"
)

// The sample flow's grammar must be speakable by the embedded recognizer:
// every phrase's words in its dictionary.
func TestGrammarInDictionary(t *testing.T) {
	const dict = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	if _, err := os.Stat(dict); err != nil {
		t.Skip("no pocketsphinx dictionary:", err)
	}
	d, err := asr.LoadDictionary(dict)
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(t, nil, nil)
	g, err := asr.BuildGrammar(d, c.s.Grammar(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Dropped {
		t.Errorf("grammar phrase left out by the recognizer: %s", p)
	}
}
