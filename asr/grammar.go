package asr

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// Dictionary is a pronunciation dictionary in CMU format: one word a line,
// then its phones; alternative pronunciations are spelled word(2), word(3).
type Dictionary struct {
	prons  map[string][]string // word → its pronunciations, phones space-separated
	phones []string            // the phones the words use, sorted
}

// LoadDictionary reads a CMU-format dictionary file.
func LoadDictionary(path string) (*Dictionary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asr: dictionary: %w", err)
	}
	defer f.Close()
	d := &Dictionary{prons: make(map[string][]string, 1<<17)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		word, phones, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || word == "" || strings.HasPrefix(word, ";;") {
			continue
		}
		if i := strings.IndexByte(word, '('); i > 0 && strings.HasSuffix(word, ")") {
			word = word[:i]
		}
		// Strip comments ("# ...") some dictionaries carry after the phones.
		if i := strings.IndexByte(phones, '#'); i >= 0 {
			phones = phones[:i]
		}
		phones = strings.Join(strings.Fields(phones), " ")
		if phones == "" {
			continue
		}
		d.prons[word] = append(d.prons[word], phones)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("asr: dictionary %s: %w", path, err)
	}
	if len(d.prons) == 0 {
		return nil, fmt.Errorf("asr: dictionary %s: no words", path)
	}
	seen := map[string]bool{}
	for _, ps := range d.prons {
		for _, p := range ps {
			for _, ph := range strings.Fields(p) {
				if !seen[ph] {
					seen[ph] = true
					d.phones = append(d.phones, ph)
				}
			}
		}
	}
	sort.Strings(d.phones)
	return d, nil
}

// Has reports whether word (lower case) is in the dictionary.
func (d *Dictionary) Has(word string) bool { _, ok := d.prons[word]; return ok }

// Pronunciations returns word's pronunciations, first the main one.
func (d *Dictionary) Pronunciations(word string) []string { return d.prons[word] }

var dictCache struct {
	sync.Mutex
	m map[string]*Dictionary
}

// loadDictionaryCached loads each dictionary file once per process: the
// Debian one is 135,000 words.
func loadDictionaryCached(path string) (*Dictionary, error) {
	dictCache.Lock()
	defer dictCache.Unlock()
	if d := dictCache.m[path]; d != nil {
		return d, nil
	}
	d, err := LoadDictionary(path)
	if err != nil {
		return nil, err
	}
	if dictCache.m == nil {
		dictCache.m = make(map[string]*Dictionary)
	}
	dictCache.m[path] = d
	return d, nil
}

var digitWords = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// NormalizeWords splits a phrase into the lower-case words a dictionary
// spells: punctuation goes, digits are spoken one by one ("12" → one two),
// '*' and '#' become star and pound, and hyphens separate words.
// Apostrophes inside words stay ("don't").
func NormalizeWords(phrase string) []string {
	var words []string
	var cur strings.Builder
	flush := func() {
		w := strings.Trim(cur.String(), "'")
		if w != "" {
			words = append(words, w)
		}
		cur.Reset()
	}
	for _, r := range strings.ToLower(phrase) {
		switch {
		case r >= '0' && r <= '9':
			flush()
			words = append(words, digitWords[r-'0'])
		case r == '*':
			flush()
			words = append(words, "star")
		case r == '#':
			flush()
			words = append(words, "pound")
		case r == '\'' || r == '’':
			cur.WriteByte('\'')
		case unicode.IsLetter(r):
			cur.WriteRune(r)
		default: // space, hyphen, punctuation
			flush()
		}
	}
	flush()
	return words
}

// Grammar is a set of phrases prepared for a dictionary.
type Grammar struct {
	// Key identifies the phrase set whatever its order.
	Key string
	// JSGF is the grammar in the Java Speech Grammar Format.
	JSGF string
	// Words are the distinct words the grammar uses, sorted: dictionary
	// words and the garbage words.
	Words []string
	// Garbage are the garbage words, see garbagePrefix.
	Garbage []string
	// Dropped are the phrases left out because a word is not in the
	// dictionary, each with the reason.
	Dropped []string
	// phrase maps a normalized phrase to the phrase as first given.
	phrase map[string]string
	prons  map[string][]string // of Words
}

// Garbage words are single phones, one for each phone of the dictionary.
// The decoder lets any sequence of them stand instead of a phrase, each at
// a penalty, so that speech outside the grammar, noise and clipped audio
// match garbage rather than the nearest phrase. They are never reported.
// The JSGF text names only the first; the decoder adds the rest, with a
// penalty JSGF weights cannot express (they are too weak against acoustic
// scores in this pocketsphinx).
const garbagePrefix = "_"

// Pronunciations returns a word's pronunciations, phones space-separated.
func (g *Grammar) Pronunciations(w string) []string { return g.prons[w] }

// Phrase returns the grammar phrase, as given, that a recognizer hypothesis
// (space-separated dictionary words) stands for; else the hypothesis.
// Garbage words are dropped: a hypothesis of nothing else is "".
func (g *Grammar) Phrase(hyp string) string {
	words := strings.Fields(hyp)
	kept := words[:0]
	for _, w := range words {
		if !strings.HasPrefix(w, garbagePrefix) {
			kept = append(kept, w)
		}
	}
	hyp = strings.Join(kept, " ")
	if p, ok := g.phrase[hyp]; ok {
		return p
	}
	return hyp
}

// BuildGrammar normalizes phrases to dictionary words and builds a JSGF
// grammar accepting exactly one of them, or, with garbage, a run of
// garbage words instead. Phrases with a word the dictionary lacks are left
// out and listed in Dropped; if none is left, the error names the unknown
// words.
func BuildGrammar(d *Dictionary, phrases []string, garbage bool) (*Grammar, error) {
	g := &Grammar{phrase: make(map[string]string), prons: make(map[string][]string)}
	var alts []string
	words := map[string]bool{}
	var unknownAll []string
	for _, p := range phrases {
		ws := NormalizeWords(p)
		if len(ws) == 0 {
			continue
		}
		var unknown []string
		for _, w := range ws {
			if !d.Has(w) {
				unknown = append(unknown, w)
			}
		}
		if len(unknown) > 0 {
			g.Dropped = append(g.Dropped, fmt.Sprintf("%q (not in the dictionary: %s)", p, strings.Join(unknown, ", ")))
			unknownAll = append(unknownAll, unknown...)
			continue
		}
		norm := strings.Join(ws, " ")
		if _, dup := g.phrase[norm]; dup {
			continue
		}
		g.phrase[norm] = p
		alts = append(alts, norm)
		for _, w := range ws {
			words[w] = true
		}
	}
	if len(alts) == 0 {
		if len(unknownAll) > 0 {
			return nil, fmt.Errorf("asr: no grammar phrase can be recognized: words not in the dictionary: %s",
				strings.Join(unknownAll, ", "))
		}
		return nil, fmt.Errorf("asr: grammar has no words")
	}
	sort.Strings(alts)
	for w := range words {
		g.Words = append(g.Words, w)
		g.prons[w] = d.Pronunciations(w)
	}
	for _, ph := range d.phones {
		if !garbage {
			break
		}
		w := garbagePrefix + strings.ToLower(ph)
		g.Garbage = append(g.Garbage, w)
		g.Words = append(g.Words, w)
		g.prons[w] = []string{ph}
	}
	sort.Strings(g.Words)
	sum := sha256.Sum256([]byte(fmt.Sprint(garbage, alts)))
	g.Key = "g" + hex.EncodeToString(sum[:8])
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\ngrammar hotline;\npublic <utt> = <phrase>")
	if garbage {
		b.WriteString(" | <garbage>")
	}
	b.WriteString(";\n<phrase> = ")
	for i, a := range alts {
		if i > 0 {
			b.WriteString("\n    | ")
		}
		b.WriteString(a)
	}
	b.WriteString(";\n")
	if garbage {
		// The decoder turns this into a loop of all garbage words.
		fmt.Fprintf(&b, "<garbage> = %s %s;\n", g.Garbage[0], g.Garbage[0])
	}
	g.JSGF = b.String()
	return g, nil
}
