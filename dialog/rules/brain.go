// Package rules is the embedded rule brain: a YAML flow of intents, slots
// and transfers, matched against what the caller says in English or
// Chinese, with answers from the knowledge base. It needs no network, so it
// is the default brain and the fallback when a model does not answer.
package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/tts"
)

// answerSentences is how much of a knowledge passage is read out: its
// first sentences answer the question; the rest is detail a caller on the
// phone will not wait for.
const answerSentences = 2

var (
	_ dialog.Brain      = (*Brain)(nil)
	_ dialog.Summarizer = (*Brain)(nil)
	_ dialog.Grammar    = (*Session)(nil)
)

// Brain answers calls from a flow and a knowledge base. It is safe for
// concurrent use by many calls.
type Brain struct {
	flow *Flow
	kb   knowledge.Searcher
	// grammar holds the phrases of each kind of state, built again when
	// examples are added.
	grammar atomic.Pointer[map[grammarState][]string]
}

// New returns a brain for flow (from ParseFlow or LoadFlow) answering from
// kb; a nil kb leaves knowledge answers out, and a person is offered
// instead.
func New(flow *Flow, kb knowledge.Searcher) *Brain {
	b := &Brain{flow: flow, kb: kb}
	g := buildGrammar(flow)
	b.grammar.Store(&g)
	return b
}

// AddExample teaches the flow's intent another phrase in lang (en or zh),
// live: the next turn of every call matches it, and the recognizer's
// grammar holds it. An error wrapping ErrUnknownIntent names no intent of
// the flow's; other errors are a phrase with nothing to match or another
// language.
func (b *Brain) AddExample(intent, lang, phrase string) error {
	added, err := b.flow.addExample(intent, lang, phrase)
	if err != nil {
		return fmt.Errorf("rules: add example: %w", err)
	}
	if added {
		g := buildGrammar(b.flow)
		b.grammar.Store(&g)
	}
	return nil
}

// Name is "rules".
func (b *Brain) Name() string { return "rules" }

// Flow is the brain's flow.
func (b *Brain) Flow() *Flow { return b.flow }

// NewSession opens the flow for one call. The session is a *Session.
func (b *Brain) NewSession(c *dialog.Conversation) dialog.Session {
	if c == nil {
		c = &dialog.Conversation{}
	}
	lang := b.flow.Language
	for _, l := range []string{c.Language, c.Profile.Language} {
		if languages[l] {
			lang = l
			break
		}
	}
	return &Session{b: b, conv: c, lang: lang}
}

// Session is the flow's state in one call: the intent being served, the
// slot being asked, how often the caller was not understood. It is not
// safe for concurrent use.
type Session struct {
	b    *Brain
	conv *dialog.Conversation
	lang string

	intent *Intent           // being served; nil between intents
	slot   int               // index of the slot being asked
	tries  int               // failed answers to that slot
	values map[string]string // the intent's slots filled so far
	query  string            // the caller's words that started the intent
	misses int               // turns in a row not understood
	// offered is set when a person was offered: the next turn may accept.
	offered bool

	log record
}

// record is what the agent's summary is made of.
type record struct {
	intents  []string // titles, first time recognised
	filled   []string // "label: value"
	missing  []string // slots the caller could not give
	answered []string // what was answered
	misses   int      // turns not understood, in all
	transfer string   // queue and reason
}

// emitter sends actions until one fails; then it remembers the error and
// sends nothing more, so the flow code need not check after each action.
type emitter struct {
	emit func(dialog.Action) error
	err  error
	// intent is the intent the reply serves, told with each action.
	intent string
}

func (e *emitter) send(a dialog.Action) {
	if a.Intent == "" {
		a.Intent = e.intent
	}
	if e.err == nil {
		e.err = e.emit(a)
	}
}

// say speaks text a sentence at a time.
func (e *emitter) say(text string) {
	for _, s := range tts.SplitSentences(text) {
		e.send(dialog.Action{Kind: dialog.Say, Text: s})
	}
}

// Respond answers one turn: words in in.Text, keys in in.Digits.
func (s *Session) Respond(ctx context.Context, in dialog.Input, emit func(dialog.Action) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	text, keys := strings.TrimSpace(in.Text), strings.TrimSpace(in.Digits)
	s.setLanguage(in.Language, text)
	e := &emitter{emit: emit}
	if s.intent != nil {
		e.intent = s.intent.Name
	}
	switch {
	case s.intent != nil:
		s.answerSlot(e, text, keys)
	case s.offered:
		s.answerOffer(e, text, keys)
	default:
		s.understand(e, text, keys)
	}
	return e.err
}

// setLanguage follows the caller: the recognizer's word for the turn, else
// the script of what they said.
func (s *Session) setLanguage(lang, text string) {
	switch {
	case languages[lang]:
		s.lang = lang
	case hasHan(text):
		s.lang = "zh"
	case strings.IndexFunc(text, unicode.IsLetter) >= 0:
		s.lang = "en"
	}
}

// Greeting is the flow's greeting in the call's language, "" if it has
// none.
func (s *Session) Greeting() string { return s.b.flow.Messages.Greeting.In(s.lang) }

func (s *Session) msg(t Text) string { return t.In(s.lang) }

// understand finds what the caller wants: a menu key, a spoken menu
// number, or an intent; failing those, the fallback.
func (s *Session) understand(e *emitter, text, keys string) {
	f := s.b.flow
	if keys == "" {
		keys = menuKeySaid(text)
	}
	if keys != "" {
		if it := f.menuIntent(keys); it != nil {
			s.start(e, it, text)
			return
		}
		if len(f.Messages.Menu) > 0 {
			e.say(s.msg(f.Messages.Menu))
			return
		}
		s.miss(e)
		return
	}
	if m := f.Match(text); m.Intent != "" && m.Score >= f.Threshold {
		s.start(e, f.Intent(m.Intent), text)
		return
	}
	s.fallback(e, text)
}

// menuWords may stand around a menu number: "press one", "option two".
var menuWords = setOf("press", "option", "number", "key", "please", "the", "i'll", "i", "choose", "按", "请", "选")

// menuKeySaid returns the menu key a caller said ("two", "press two",
// "按二"); "" when they said anything else.
func menuKeySaid(text string) string {
	key := ""
	for _, w := range splitWords(text) {
		t := digitOf(w)
		switch {
		case menuWords[w]:
		case key == "" && len(t.digits) == 1 && !t.weak:
			key = t.digits
		default:
			return ""
		}
	}
	return key
}

// start serves an intent: its first slot, or straight to its action.
func (s *Session) start(e *emitter, it *Intent, said string) {
	e.intent = it.Name
	s.misses, s.offered = 0, false
	if !slices.Contains(s.log.intents, it.Title) {
		s.log.intents = append(s.log.intents, it.Title)
	}
	s.intent, s.slot, s.tries, s.values, s.query = it, 0, 0, map[string]string{}, said
	if len(it.Slots) > 0 {
		s.ask(e)
		return
	}
	s.finish(e)
}

// ask prompts for the current slot: again in other words after a failed
// try, for keys once spoken tries have failed often enough.
func (s *Session) ask(e *emitter) {
	sl := &s.intent.Slots[s.slot]
	switch {
	case sl.Kind == Digits && sl.DTMFAfter > 0 && s.tries >= sl.DTMFAfter:
		e.send(dialog.Action{Kind: dialog.CollectDigits, Text: s.msg(sl.DTMFPrompt), MaxDigits: sl.MaxDigits})
	case s.tries > 0:
		e.say(s.msg(sl.Retry))
	default:
		e.say(s.msg(sl.Prompt))
	}
}

// answerSlot takes the caller's answer to the slot asked.
func (s *Session) answerSlot(e *emitter, text, keys string) {
	it := s.intent
	sl := &it.Slots[s.slot]
	if v, ok := sl.fill(text, keys); ok {
		s.values[sl.Name] = v
		s.log.filled = append(s.log.filled, sl.Label+": "+v)
		s.slot++
		s.tries = 0
		if s.slot < len(it.Slots) {
			s.ask(e)
			return
		}
		s.finish(e)
		return
	}
	// Not an answer: maybe the caller wants something else now ("can I
	// just talk to someone").
	f := s.b.flow
	if m := f.Match(text); m.Score >= f.Threshold && m.Intent != it.Name {
		s.start(e, f.Intent(m.Intent), text)
		return
	}
	s.tries++
	if s.tries < sl.MaxTries {
		s.ask(e)
		return
	}
	s.log.missing = append(s.log.missing, sl.Label)
	s.intent = nil
	if it.Transfer != nil {
		s.transfer(e, it.Transfer.Queue, it.Transfer.Reason+"; "+sl.Label+" not given", true)
		return
	}
	s.offer(e)
}

// finish acts on the intent once its slots are filled.
func (s *Session) finish(e *emitter) {
	it := s.intent
	s.intent = nil
	f := s.b.flow
	if len(it.Answer) > 0 {
		e.say(s.fillIn(it, s.msg(it.Answer)))
	}
	if it.Knowledge {
		q := s.msg(it.Query)
		if q == "" {
			q = s.query
		}
		if !s.answerFromKnowledge(e, q, 0) {
			s.offer(e)
			return
		}
	}
	switch {
	case it.Transfer != nil:
		// An answer of the intent's own already tells the caller where
		// they are going.
		s.transfer(e, it.Transfer.Queue, it.Transfer.Reason, len(it.Answer) == 0)
	case it.End:
		e.send(dialog.Action{Kind: dialog.Hangup, Text: s.msg(f.Messages.Goodbye), Reason: "caller ended the call"})
	case it.OfferHuman:
		s.offer(e)
	default:
		if !it.Knowledge {
			s.log.answered = append(s.log.answered, it.Title)
		}
		e.say(s.msg(f.Messages.AnythingElse))
	}
}

// fillIn replaces {slot} in an answer by the slot's value, as spoken.
func (s *Session) fillIn(it *Intent, text string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		name := m[1 : len(m)-1]
		for i := range it.Slots {
			if it.Slots[i].Name == name {
				return it.Slots[i].spoken(s.values[name])
			}
		}
		return m
	})
}

// answerFromKnowledge speaks the start of the best passage for query that
// scores at least minScore; false when there is none.
func (s *Session) answerFromKnowledge(e *emitter, query string, minScore float64) bool {
	if s.b.kb == nil || strings.TrimSpace(query) == "" {
		return false
	}
	for _, p := range s.b.kb.Search(query, 3) {
		if p.Score < minScore {
			break
		}
		sentences := tts.SplitSentences(p.Text)
		if len(sentences) == 0 {
			continue
		}
		cite := &dialog.Citation{Article: p.ID, Version: p.Version}
		for _, sen := range sentences[:min(answerSentences, len(sentences))] {
			e.send(dialog.Action{Kind: dialog.Say, Text: sen, Cite: cite})
		}
		topic := p.Title
		if p.Heading != "" && p.Heading != p.Title {
			topic += " (" + p.Heading + ")"
		}
		s.log.answered = append(s.log.answered, topic)
		return true
	}
	return false
}

// fallback is what happens when no intent fits: an answer from the
// knowledge base if one fits well, else ask again, and after enough
// misses offer a person.
func (s *Session) fallback(e *emitter, text string) {
	fb := s.b.flow.Fallback
	if fb.Knowledge && s.answerFromKnowledge(e, text, fb.MinScore) {
		s.misses = 0
		e.say(s.msg(s.b.flow.Messages.AnythingElse))
		return
	}
	s.miss(e)
}

func (s *Session) miss(e *emitter) {
	s.misses++
	s.log.misses++
	if s.misses >= s.b.flow.Fallback.MaxMisses {
		s.misses = 0
		s.offer(e)
		return
	}
	e.say(s.msg(s.b.flow.Messages.NotUnderstood))
}

func (s *Session) offer(e *emitter) {
	s.offered = true
	e.say(s.msg(s.b.flow.Messages.OfferHuman))
}

// answerOffer takes the reply to an offer of a person: yes (or key 0)
// transfers, no goes on; anything else is understood afresh.
func (s *Session) answerOffer(e *emitter, text, keys string) {
	s.offered = false
	fb := s.b.flow.Fallback
	yn, ok := dialog.YesNo(text)
	switch {
	case keys == "0" || keys == "" && ok && yn == "yes":
		s.transfer(e, fb.Queue, fb.Reason, true)
	case keys == "" && ok && yn == "no":
		e.say(s.msg(s.b.flow.Messages.AnythingElse))
	default:
		s.understand(e, text, keys)
	}
}

// transfer hands the call over, with a summary for the agent, after
// telling the caller if announce.
func (s *Session) transfer(e *emitter, queue, reason string, announce bool) {
	if announce {
		e.say(s.msg(s.b.flow.Messages.Transfer))
	}
	s.log.transfer = queue + ", " + reason
	e.send(dialog.Action{Kind: dialog.Transfer, Queue: queue, Reason: reason, Summary: s.Summary()})
}

// Summary tells an agent taking the call what it is about: who called,
// what they wanted, what they gave, what they were told and why the call
// was handed over.
func (s *Session) Summary() string {
	var lines []string
	add := func(label string, items []string) {
		if len(items) > 0 {
			lines = append(lines, label+": "+strings.Join(items, "; ")+".")
		}
	}
	if p := s.conv.Profile; p.Name != "" || p.Tier != "" {
		who := p.Name
		if p.Tier != "" {
			who = strings.TrimSpace(who + " (" + p.Tier + ")")
		}
		lines = append(lines, "Caller: "+who+".")
	}
	add("Wants", s.log.intents)
	add("Gave", s.log.filled)
	add("Could not give", s.log.missing)
	add("Answered", s.log.answered)
	if s.log.misses > 0 {
		lines = append(lines, fmt.Sprintf("Not understood: %d turns.", s.log.misses))
	}
	if s.log.transfer != "" {
		lines = append(lines, "Transferred: "+s.log.transfer+".")
	}
	if len(lines) == 0 {
		return "Nothing recognised yet."
	}
	return strings.Join(lines, "\n")
}
