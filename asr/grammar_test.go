package asr

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeWords(t *testing.T) {
	for in, want := range map[string]string{
		"Leave a message.":      "leave a message",
		"  Talk to an AGENT!  ": "talk to an agent",
		"press 1":               "press one",
		"12":                    "one two",
		"option #3, or *":       "option pound three or star",
		"don't":                 "don't",
		"Don’t hang up":         "don't hang up",
		"'quoted'":              "quoted",
		"follow-up":             "follow up",
		"e-mail me":             "e mail me",
		"":                      "",
		"?!":                    "",
		"room 101b":             "room one zero one b",
	} {
		if got := strings.Join(NormalizeWords(in), " "); got != want {
			t.Errorf("NormalizeWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// testDict writes a small CMU-format dictionary.
func testDict(t *testing.T) *Dictionary {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.dict")
	os.WriteFile(path, []byte(`a AH
a(2) EY
agent EY JH AH N T
leave L IY V
message M EH S AH JH
one W AH N
one(2) HH W AH N
two T UW
zero Z IH R OW # a comment
don't D OW N T
`), 0o644)
	d, err := LoadDictionary(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoadDictionary(t *testing.T) {
	d := testDict(t)
	if got := d.Pronunciations("one"); !reflect.DeepEqual(got, []string{"W AH N", "HH W AH N"}) {
		t.Errorf("one: %q", got)
	}
	if got := d.Pronunciations("zero"); !reflect.DeepEqual(got, []string{"Z IH R OW"}) {
		t.Errorf("zero: %q", got)
	}
	if !d.Has("don't") || d.Has("one(2)") || d.Has("three") {
		t.Error("Has is wrong")
	}
	if _, err := LoadDictionary(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing file accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := LoadDictionary(empty); err == nil {
		t.Error("empty dictionary accepted")
	}
}

func TestBuildGrammar(t *testing.T) {
	d := testDict(t)
	g, err := BuildGrammar(d, []string{"Leave a message", "agent", "1", "press 2", "Agent!", "two"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Dropped) != 1 || !strings.Contains(g.Dropped[0], "press") {
		t.Errorf("Dropped = %q", g.Dropped)
	}
	for _, want := range []string{"public <utt> = <phrase> | <garbage>;", "leave a message", "| one", "<garbage> = _ah _ah;"} {
		if !strings.Contains(g.JSGF, want) {
			t.Errorf("JSGF lacks %q:\n%s", want, g.JSGF)
		}
	}
	if strings.Count(g.JSGF, "agent") != 1 {
		t.Errorf("duplicate phrase kept:\n%s", g.JSGF)
	}
	// Results come back spelled as the phrases were given; garbage goes.
	for hyp, want := range map[string]string{
		"leave a message": "Leave a message", "one": "1", "agent": "agent",
		"_ah _t": "", "_s agent _t": "agent", "": "",
	} {
		if got := g.Phrase(hyp); got != want {
			t.Errorf("Phrase(%q) = %q, want %q", hyp, got, want)
		}
	}
	if !reflect.DeepEqual(g.Pronunciations("one"), []string{"W AH N", "HH W AH N"}) || len(g.Pronunciations("_hh")) != 1 {
		t.Error("pronunciations")
	}
	// The key names the phrase set, whatever the order.
	g2, _ := BuildGrammar(d, []string{"two", "1", "agent", "leave a message"}, true)
	if g2.Key != g.Key {
		t.Error("key depends on phrase order")
	}
	g3, _ := BuildGrammar(d, []string{"two", "1", "agent", "leave a message"}, false)
	if g3.Key == g.Key || strings.Contains(g3.JSGF, "garbage") || len(g3.Garbage) != 0 {
		t.Errorf("no-garbage grammar:\n%s", g3.JSGF)
	}

	if _, err := BuildGrammar(d, []string{"xyzzy plugh", "frob"}, true); err == nil ||
		!strings.Contains(err.Error(), "xyzzy, plugh, frob") {
		t.Errorf("unknown words: %v", err)
	}
	if _, err := BuildGrammar(d, []string{"", "?"}, true); err == nil {
		t.Error("empty grammar accepted")
	}
}
