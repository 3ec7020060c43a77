package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Flow is what the rule brain knows: the intents a caller may have, what
// to do for each, and what to say when nothing fits. Obtain one from
// ParseFlow or LoadFlow, which check it and prepare its matcher.
type Flow struct {
	// Name of the service, for logs.
	Name string `yaml:"name"`
	// Language is the flow's default language, en (default) or zh.
	Language string `yaml:"language"`
	// Threshold is the lowest match score (0..1) that counts as an intent;
	// default 0.5.
	Threshold float64  `yaml:"threshold"`
	Messages  Messages `yaml:"messages"`
	Fallback  Fallback `yaml:"fallback"`
	// Menu maps keys to intents for callers who press instead of speak.
	Menu    []MenuItem `yaml:"menu"`
	Intents []Intent   `yaml:"intents"`

	// matcher is replaced, never changed, when examples are added: calls
	// in progress match against one or the other, whole.
	matcher atomic.Pointer[matcher]
	intents map[string]*Intent
	// mu serializes additions; added are the example phrases added at run
	// time, beside the flow file's own.
	mu    sync.Mutex
	added []addedExample
}

type addedExample struct{ intent, lang, phrase string }

// Messages are what the brain says outside any intent.
type Messages struct {
	// Greeting opens the call; optional (the call's greeting may be a
	// recorded prompt instead).
	Greeting Text `yaml:"greeting"`
	// NotUnderstood asks the caller to say it again.
	NotUnderstood Text `yaml:"not_understood"`
	// OfferHuman offers a person after repeated misses; "yes" or key 0
	// accepts.
	OfferHuman Text `yaml:"offer_human"`
	// Goodbye is said when the call ends.
	Goodbye Text `yaml:"goodbye"`
	// Transfer is said before handing the call over; optional.
	Transfer Text `yaml:"transfer"`
	// AnythingElse follows an answer; optional.
	AnythingElse Text `yaml:"anything_else"`
	// Menu is said when the caller presses a key the menu lacks; optional.
	Menu Text `yaml:"menu"`
}

// Fallback is what happens when no intent matches.
type Fallback struct {
	// Knowledge answers from the knowledge base when its best passage
	// scores at least MinScore.
	Knowledge bool    `yaml:"knowledge"`
	MinScore  float64 `yaml:"min_score"`
	// MaxMisses is how many turns in a row may go not understood before a
	// person is offered; default 2.
	MaxMisses int `yaml:"max_misses"`
	// Queue and Reason are where an accepted offer of a person goes.
	Queue  string `yaml:"queue"`
	Reason string `yaml:"reason"`
}

// MenuItem is one key of the menu.
type MenuItem struct {
	// Key is 0-9, * or #.
	Key    string `yaml:"key"`
	Intent string `yaml:"intent"`
	// Label is the option's name in English ("cards"), which callers may
	// also say.
	Label string `yaml:"label"`
}

// Intent is one thing a caller may want.
type Intent struct {
	// Name identifies the intent: lower case letters, digits, _.
	Name string `yaml:"name"`
	// Title is the intent for an agent ("Lost or stolen card"); default
	// Name.
	Title string `yaml:"title"`
	// Examples are phrases a caller might say, per language.
	Examples map[string][]string `yaml:"examples"`
	// Slots are asked for, in order, before the intent is acted on.
	Slots []Slot `yaml:"slots"`
	// Answer is said once the slots are filled; {slot} is replaced by the
	// slot's value.
	Answer Text `yaml:"answer"`
	// Knowledge answers from the knowledge base, with Query if set, else
	// with the caller's words.
	Knowledge bool `yaml:"knowledge"`
	Query     Text `yaml:"query"`
	// OfferHuman offers a person after the answer.
	OfferHuman bool `yaml:"offer_human"`
	// Transfer hands the call over after the answer.
	Transfer *Transfer `yaml:"transfer"`
	// End hangs up after the answer, with the goodbye message.
	End bool `yaml:"end"`
}

// Transfer is where an intent hands the call over.
type Transfer struct {
	Queue  string `yaml:"queue"`
	Reason string `yaml:"reason"`
}

// Slot kinds.
const (
	Digits = "digits"
	YesNo  = "yes-no"
	Free   = "free"
)

// Slot is one piece of information an intent asks for.
type Slot struct {
	Name string `yaml:"name"`
	// Label names the slot for an agent ("card's last four digits");
	// default Name.
	Label string `yaml:"label"`
	// Kind is digits, yes-no or free.
	Kind   string `yaml:"kind"`
	Prompt Text   `yaml:"prompt"`
	// Retry is said after an answer that did not fit; default Prompt.
	Retry Text `yaml:"retry"`
	// MaxDigits and MinDigits bound a digits slot; MinDigits defaults to
	// MaxDigits.
	MaxDigits int `yaml:"max_digits"`
	MinDigits int `yaml:"min_digits"`
	// DTMFAfter is how many failed spoken tries of a digits slot lead to
	// asking for keys with DTMFPrompt; 0 never asks.
	DTMFAfter  int  `yaml:"dtmf_after"`
	DTMFPrompt Text `yaml:"dtmf_prompt"`
	// MaxTries is how many failed tries end the slot (and the call goes to
	// the intent's transfer, or a person is offered); default 3.
	MaxTries int `yaml:"max_tries"`
}

// Text is something said, per language (en, zh). In YAML it is a mapping
// of language to text, or a plain string for English.
type Text map[string]string

// UnmarshalYAML accepts a string or a language mapping.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Text{"en": n.Value}
		return nil
	}
	m := map[string]string{}
	if err := n.Decode(&m); err != nil {
		return fmt.Errorf("line %d: text must be a string or a mapping of language to string", n.Line)
	}
	*t = m
	return nil
}

// In returns the text in lang, else in English, else in any language.
func (t Text) In(lang string) string {
	if s := t[lang]; s != "" {
		return s
	}
	if s := t["en"]; s != "" {
		return s
	}
	for _, s := range t {
		if s != "" {
			return s
		}
	}
	return ""
}

// languages a flow may use.
var languages = map[string]bool{"en": true, "zh": true}

// Defaults.
const (
	defaultThreshold = 0.5
	defaultMaxMisses = 2
	defaultMaxTries  = 3
	maxSlotDigits    = 32
)

// LoadFlow reads and checks a flow file.
func LoadFlow(path string) (*Flow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	f, err := ParseFlow(data)
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", path, err)
	}
	return f, nil
}

// ParseFlow reads and checks a flow. Every problem found is reported,
// each with its line and field.
func ParseFlow(data []byte) (*Flow, error) {
	var f Flow
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("flow is empty")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, errors.New(strings.Join(te.Errors, "; "))
		}
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	v := validator{root: &root}
	f.check(&v)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	f.compile()
	return &f, nil
}

// validator collects problems, each placed at the line of the field.
type validator struct {
	root *yaml.Node
	errs []error
}

// errorf records a problem with the field at path (strings are mapping
// keys, ints sequence indexes).
func (v *validator) errorf(path []any, format string, args ...any) {
	line := lineAt(v.root, path)
	msg := fmt.Sprintf(format, args...)
	name := pathString(path)
	switch {
	case line > 0 && name != "":
		v.errs = append(v.errs, fmt.Errorf("line %d: %s: %s", line, name, msg))
	case name != "":
		v.errs = append(v.errs, fmt.Errorf("%s: %s", name, msg))
	default:
		v.errs = append(v.errs, errors.New(msg))
	}
}

// lineAt is the line of the field at path: of its key in a mapping, of
// its item in a sequence; of the nearest field above it that exists when
// it is missing.
func lineAt(n *yaml.Node, path []any) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, p := range path {
		var next *yaml.Node
		switch key := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						next, line = n.Content[i+1], n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && key < len(n.Content) {
				next = n.Content[key]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		}
	}
	return b.String()
}

func at(base []any, more ...any) []any {
	return append(append([]any(nil), base...), more...)
}

var (
	intentName  = regexp.MustCompile(`^[a-z0-9_]+$`)
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
)

// check fills defaults and records what is wrong.
func (f *Flow) check(v *validator) {
	if f.Language == "" {
		f.Language = "en"
	} else if !languages[f.Language] {
		v.errorf([]any{"language"}, "%q is not en or zh", f.Language)
	}
	switch {
	case f.Threshold == 0:
		f.Threshold = defaultThreshold
	case f.Threshold < 0 || f.Threshold > 1:
		v.errorf([]any{"threshold"}, "%v is not in (0, 1]", f.Threshold)
	}
	m := &f.Messages
	checkText(v, []any{"messages", "not_understood"}, m.NotUnderstood, true)
	checkText(v, []any{"messages", "offer_human"}, m.OfferHuman, true)
	checkText(v, []any{"messages", "goodbye"}, m.Goodbye, true)
	checkText(v, []any{"messages", "greeting"}, m.Greeting, false)
	checkText(v, []any{"messages", "transfer"}, m.Transfer, false)
	checkText(v, []any{"messages", "anything_else"}, m.AnythingElse, false)
	checkText(v, []any{"messages", "menu"}, m.Menu, false)

	fb := &f.Fallback
	if fb.Queue == "" {
		v.errorf([]any{"fallback", "queue"}, "missing: the queue a caller who accepts a person goes to")
	}
	if fb.Reason == "" {
		fb.Reason = "caller not understood"
	}
	switch {
	case fb.MaxMisses == 0:
		fb.MaxMisses = defaultMaxMisses
	case fb.MaxMisses < 0:
		v.errorf([]any{"fallback", "max_misses"}, "%d is negative", fb.MaxMisses)
	}
	if fb.MinScore < 0 {
		v.errorf([]any{"fallback", "min_score"}, "%v is negative", fb.MinScore)
	}

	if len(f.Intents) == 0 {
		v.errorf([]any{"intents"}, "missing: a flow needs at least one intent")
	}
	f.intents = map[string]*Intent{}
	for i := range f.Intents {
		it := &f.Intents[i]
		p := []any{"intents", i}
		switch {
		case it.Name == "":
			v.errorf(at(p, "name"), "missing")
		case !intentName.MatchString(it.Name):
			v.errorf(at(p, "name"), "%q: use lower case letters, digits and _", it.Name)
		case f.intents[it.Name] != nil:
			v.errorf(at(p, "name"), "%q is used by another intent", it.Name)
		default:
			f.intents[it.Name] = it
		}
		it.check(v, p)
	}

	keys := map[string]bool{}
	for i, mi := range f.Menu {
		p := []any{"menu", i}
		switch {
		case len(mi.Key) != 1 || !strings.Contains("0123456789*#", mi.Key):
			v.errorf(at(p, "key"), "%q is not one of 0-9, * or #", mi.Key)
		case keys[mi.Key]:
			v.errorf(at(p, "key"), "%q is used twice", mi.Key)
		}
		keys[mi.Key] = true
		if f.intents[mi.Intent] == nil {
			v.errorf(at(p, "intent"), "%q is not an intent of the flow", mi.Intent)
		}
		if hasHan(mi.Label) {
			v.errorf(at(p, "label"), "%q: labels are English words a caller may say", mi.Label)
		}
	}
}

func (it *Intent) check(v *validator, p []any) {
	if it.Title == "" {
		it.Title = it.Name
	}
	n := 0
	for _, lang := range slices.Sorted(maps.Keys(it.Examples)) {
		exs := it.Examples[lang]
		if !languages[lang] {
			v.errorf(at(p, "examples", lang), "language %q is not en or zh", lang)
		}
		for j, e := range exs {
			if len(analyze(e)) == 0 {
				v.errorf(at(p, "examples", lang, j), "%q has no word to match (only stopwords or numbers)", e)
			}
			n++
		}
	}
	if n == 0 {
		v.errorf(at(p, "examples"), "missing: an intent needs example phrases")
	}
	slots := map[string]bool{}
	for j := range it.Slots {
		s := &it.Slots[j]
		if s.Name != "" && slots[s.Name] {
			v.errorf(at(p, "slots", j, "name"), "%q is used twice", s.Name)
		}
		slots[s.Name] = true
		s.check(v, at(p, "slots", j))
	}
	if len(it.Answer) > 0 && it.Knowledge {
		v.errorf(at(p, "knowledge"), "an intent answers with answer or from knowledge, not both")
	}
	if len(it.Query) > 0 && !it.Knowledge {
		v.errorf(at(p, "query"), "set knowledge: true to answer from the knowledge base")
	}
	checkText(v, at(p, "answer"), it.Answer, false)
	checkText(v, at(p, "query"), it.Query, false)
	for _, s := range it.Answer {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			if !slots[m[1]] {
				v.errorf(at(p, "answer"), "{%s} is not a slot of the intent", m[1])
			}
		}
	}
	if it.Transfer != nil {
		if it.Transfer.Queue == "" {
			v.errorf(at(p, "transfer", "queue"), "missing")
		}
		if it.Transfer.Reason == "" {
			v.errorf(at(p, "transfer", "reason"), "missing")
		}
	}
	acts := 0
	for _, b := range []bool{it.Transfer != nil, it.End, it.OfferHuman} {
		if b {
			acts++
		}
	}
	if acts > 1 {
		v.errorf(p, "intent %q: choose one of transfer, end and offer_human", it.Name)
	}
	if acts == 0 && len(it.Answer) == 0 && !it.Knowledge {
		v.errorf(p, "intent %q does nothing: give it an answer, knowledge, transfer or end", it.Name)
	}
}

func (s *Slot) check(v *validator, p []any) {
	if s.Name == "" {
		v.errorf(at(p, "name"), "missing")
	}
	if s.Label == "" {
		s.Label = s.Name
	}
	checkText(v, at(p, "prompt"), s.Prompt, true)
	checkText(v, at(p, "retry"), s.Retry, false)
	checkText(v, at(p, "dtmf_prompt"), s.DTMFPrompt, false)
	if len(s.Retry) == 0 {
		s.Retry = s.Prompt
	}
	switch {
	case s.MaxTries == 0:
		s.MaxTries = defaultMaxTries
	case s.MaxTries < 0:
		v.errorf(at(p, "max_tries"), "%d is negative", s.MaxTries)
	}
	switch s.Kind {
	case Digits:
		if s.MaxDigits < 1 || s.MaxDigits > maxSlotDigits {
			v.errorf(at(p, "max_digits"), "%d is not in 1..%d", s.MaxDigits, maxSlotDigits)
		}
		if s.MinDigits == 0 {
			s.MinDigits = s.MaxDigits
		}
		if s.MinDigits < 0 || s.MinDigits > s.MaxDigits {
			v.errorf(at(p, "min_digits"), "%d is not in 1..max_digits", s.MinDigits)
		}
		if s.DTMFAfter < 0 {
			v.errorf(at(p, "dtmf_after"), "%d is negative", s.DTMFAfter)
		}
		if s.DTMFAfter > 0 && len(s.DTMFPrompt) == 0 {
			v.errorf(at(p, "dtmf_prompt"), "missing: dtmf_after needs a prompt asking for keys")
		}
	case YesNo, Free:
		for _, f := range []struct {
			name string
			set  bool
		}{{"max_digits", s.MaxDigits != 0}, {"min_digits", s.MinDigits != 0}, {"dtmf_after", s.DTMFAfter != 0}} {
			if f.set {
				v.errorf(at(p, f.name), "only for a digits slot")
			}
		}
	case "":
		v.errorf(at(p, "kind"), "missing: digits, yes-no or free")
	default:
		v.errorf(at(p, "kind"), "%q is not digits, yes-no or free", s.Kind)
	}
}

// checkText records unknown languages, and a missing text if required.
func checkText(v *validator, p []any, t Text, required bool) {
	for _, lang := range slices.Sorted(maps.Keys(t)) {
		if !languages[lang] {
			v.errorf(at(p, lang), "language %q is not en or zh", lang)
		}
	}
	if required && t.In("en") == "" {
		v.errorf(p, "missing")
	}
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

// compile prepares the matcher: each intent's examples, plus the menu
// labels callers may say.
func (f *Flow) compile() {
	names := make([]string, len(f.Intents))
	phrases := make([][]string, len(f.Intents))
	index := map[string]int{}
	for i, it := range f.Intents {
		names[i] = it.Name
		index[it.Name] = i
		for _, lang := range []string{"en", "zh"} {
			phrases[i] = append(phrases[i], it.Examples[lang]...)
		}
	}
	for _, mi := range f.Menu {
		if mi.Label != "" {
			i := index[mi.Intent]
			phrases[i] = append(phrases[i], mi.Label)
		}
	}
	for _, a := range f.added {
		i := index[a.intent]
		phrases[i] = append(phrases[i], a.phrase)
	}
	f.matcher.Store(newMatcher(names, phrases))
}

// Match returns the intent text is closest to, whatever its score; an
// intent counts when Score reaches the flow's Threshold.
func (f *Flow) Match(text string) Match { return f.matcher.Load().match(text) }

// ErrUnknownIntent: the flow has no intent of that name.
var ErrUnknownIntent = errors.New("no such intent in the flow")

// addExample adds an example phrase in lang (en or zh) to the intent, for
// every Match from now on. A phrase the intent has already is no change.
func (f *Flow) addExample(intent, lang, phrase string) (bool, error) {
	it := f.intents[intent]
	switch {
	case it == nil:
		return false, fmt.Errorf("intent %q: %w", intent, ErrUnknownIntent)
	case !languages[lang]:
		return false, fmt.Errorf("language %q: want en or zh", lang)
	case len(analyze(phrase)) == 0:
		return false, fmt.Errorf("phrase %q has no word to match (only stopwords or numbers)", phrase)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := addedExample{intent, lang, phrase}
	if slices.Contains(it.Examples[lang], phrase) || slices.Contains(f.added, a) {
		return false, nil
	}
	f.added = append(f.added, a)
	f.compile()
	return true, nil
}

// addedPhrases are the phrases added in lang.
func (f *Flow) addedPhrases(lang string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.added {
		if a.lang == lang {
			out = append(out, a.phrase)
		}
	}
	return out
}

// Queues are the queues the flow transfers callers to, sorted.
func (f *Flow) Queues() []string {
	qs := []string{f.Fallback.Queue}
	for _, in := range f.Intents {
		if in.Transfer != nil {
			qs = append(qs, in.Transfer.Queue)
		}
	}
	slices.Sort(qs)
	return slices.Compact(qs)
}

// Intent returns the named intent, nil if the flow has none.
func (f *Flow) Intent(name string) *Intent { return f.intents[name] }

// menuIntent returns the intent of a menu key, nil if the key is not in
// the menu.
func (f *Flow) menuIntent(key string) *Intent {
	for _, mi := range f.Menu {
		if mi.Key == key {
			return f.intents[mi.Intent]
		}
	}
	return nil
}
