package knowledge

import (
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Passage is one section of a knowledge article.
type Passage struct {
	Doc     string  // file name relative to the base dir, e.g. "cards/lost-card.md"
	ID      string  // the article's id, e.g. "cards/lost-card"
	Version int     // the article's version the text is from
	Title   string  // the article's title (front matter's title, first # heading, or the file name)
	Heading string  // the section's heading ("" for the text before the first ##)
	Text    string  // the section's text, Markdown stripped to plain sentences fit to be spoken
	Score   float64 // BM25 score for the query
}

// BM25 parameters, and how much a term counts in each part of a section
// relative to the body. A caller's question names the topic ("lost card",
// "opening hours") far more often than it echoes the answer's wording, and
// the topic is in the title and the heading.
const (
	k1 = 1.2
	b  = 0.75

	titleWeight   = 2.0
	keywordWeight = 2.0
	headingWeight = 3.0
	parentWeight  = 1.5

	// fuzzyWeight discounts a term found by correcting a query word: it
	// may be what the caller said, or a near miss. Measured on the sample
	// questions with one word misheard: 0.3 answers 90% of them, 0.7 95%,
	// 1 97%; a full weight would let a guess outvote a word heard right.
	fuzzyWeight = 0.7
	// hanWeight discounts a single Han character: the bigrams carry the
	// meaning, and a lone character shared with an article ("额" of 限额
	// in "查余额") must not score like a word.
	hanWeight = 0.3
)

// Base is a searchable set of knowledge articles. It never changes once
// built, so it is safe for concurrent use.
type Base struct {
	passages []Passage // Score unset
	lengths  []float64 // weighted term count per passage
	avgLen   float64
	postings map[string][]posting
	// vocab is every plain English term, sorted, for the fuzzy lookup.
	vocab []string
}

type posting struct {
	sec int32
	tf  float32
}

// Load reads every *.md file under dir, recursively, skipping hidden files
// and folders (editors' swap files, .git). A folder without articles gives
// an empty Base. A file that is not a readable article fails the load; the
// error names every such file and wraps ErrMalformed.
func Load(dir string) (*Base, error) {
	kb, err := LoadFS(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("knowledge: load %s: %w", dir, err)
	}
	return kb, nil
}

// LoadFS is Load on the folder dir of fsys: articles built into the
// binary, say. Articles are named relative to dir.
func LoadFS(fsys fs.FS, dir string) (*Base, error) {
	docs, err := readFS(fsys, dir)
	if err != nil {
		return nil, err
	}
	return New(docs)
}

// readFS reads the articles under dir of fsys, keyed by their names
// relative to dir.
func readFS(fsys fs.FS, dir string) (map[string]string, error) {
	docs := map[string]string{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.EqualFold(path.Ext(p), ".md") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := p
		if dir != "." {
			rel = strings.TrimPrefix(p, dir+"/")
		}
		docs[rel] = string(src)
		return nil
	})
	return docs, err
}

// New builds a Base from Markdown articles keyed by name (the Passage's
// Doc), of the versions in effect now. Every malformed article is
// reported, joined in one error.
func New(docs map[string]string) (*Base, error) {
	lib, err := newLibrary(docs)
	if err != nil {
		return nil, err
	}
	return newBase(lib.activeAt(time.Now())), nil
}

// newBase indexes the sections of arts, which are sorted by file name.
func newBase(arts []*article) *Base {
	kb := &Base{postings: map[string][]posting{}}
	for _, a := range arts {
		kb.add(a)
	}
	var total float64
	for _, l := range kb.lengths {
		total += l
	}
	if len(kb.lengths) > 0 {
		kb.avgLen = total / float64(len(kb.lengths))
	}
	for t := range kb.postings {
		if isLower(t) {
			kb.vocab = append(kb.vocab, t)
		}
	}
	slices.Sort(kb.vocab)
	return kb
}

// add indexes an article's sections.
func (kb *Base) add(a *article) {
	shared := map[string]float64{}
	for _, t := range tokenize(a.title) {
		shared[t] += titleWeight
	}
	for _, k := range a.keywords {
		for _, t := range tokenize(k) {
			shared[t] += keywordWeight
		}
	}
	for _, s := range a.sections {
		tf := map[string]float64{}
		for t, w := range shared {
			tf[t] = w
		}
		for _, t := range tokenize(s.heading) {
			tf[t] += headingWeight
		}
		for _, t := range tokenize(s.parent) {
			tf[t] += parentWeight
		}
		for _, t := range tokenize(s.text) {
			tf[t]++
		}
		sec := int32(len(kb.passages))
		var length float64
		for t, w := range tf {
			kb.postings[t] = append(kb.postings[t], posting{sec: sec, tf: float32(w)})
			length += w
		}
		kb.passages = append(kb.passages, Passage{Doc: a.file, ID: a.id, Version: a.version, Title: a.title, Heading: s.heading, Text: s.text})
		kb.lengths = append(kb.lengths, length)
	}
}

// Len is the number of sections.
func (kb *Base) Len() int { return len(kb.passages) }

// Search returns the k sections that best answer query, best first; nil
// when no section shares a term with it (or k < 1).
func (kb *Base) Search(query string, k int) []Passage {
	return kb.search(query, k, true)
}

// search is Search with the fuzzy lookup switchable, so tests can measure
// what it adds.
func (kb *Base) search(query string, k int, fuzzy bool) []Passage {
	if k < 1 || len(kb.passages) == 0 {
		return nil
	}
	weights := kb.queryTerms(query, fuzzy)
	if len(weights) == 0 {
		return nil
	}
	scores := make([]float64, len(kb.passages))
	n := float64(len(kb.passages))
	// Summed in a fixed order, so near ties do not flip between runs.
	for _, t := range slices.Sorted(maps.Keys(weights)) {
		w, ps := weights[t], kb.postings[t]
		idf := math.Log(1 + (n-float64(len(ps))+0.5)/(float64(len(ps))+0.5))
		for _, p := range ps {
			tf := float64(p.tf)
			norm := k1 * (1 - b + b*kb.lengths[p.sec]/kb.avgLen)
			scores[p.sec] += w * idf * tf * (k1 + 1) / (tf + norm)
		}
	}
	var hits []int
	for i, s := range scores {
		if s > 0 {
			hits = append(hits, i)
		}
	}
	if len(hits) == 0 {
		return nil
	}
	// Ties keep the base's order (by file, then section), so a query
	// always gets the same answer.
	slices.SortStableFunc(hits, func(i, j int) int { return cmp.Compare(scores[j], scores[i]) })
	if len(hits) > k {
		hits = hits[:k]
	}
	out := make([]Passage, 0, len(hits))
	for _, i := range hits {
		p := kb.passages[i]
		p.Score = scores[i]
		out = append(out, p)
	}
	return out
}

// queryTerms weighs the query's terms. Words the recognizer split are
// joined when the base knows the joined word ("log in", "a t m"), and with
// fuzzy, a word the base does not know is replaced by its near misses.
func (kb *Base) queryTerms(query string, fuzzy bool) map[string]float64 {
	ws := words(query)
	weights := map[string]float64{}
	put := func(t string, w float64) {
		weights[t] = max(weights[t], w)
	}
	for _, t := range terms(ws) {
		switch {
		case kb.postings[t] != nil:
			if isHan(t) && utf8.RuneCountInString(t) == 1 {
				put(t, hanWeight)
			} else {
				put(t, 1)
			}
		case fuzzy && isLatin(t):
			for _, c := range kb.nearMisses(t) {
				put(c, fuzzyWeight)
			}
		}
	}
	for _, t := range kb.joined(ws) {
		put(t, 1)
	}
	return weights
}

// joined finds terms the base knows that are two adjacent query words, or
// a run of single letters, written together.
func (kb *Base) joined(ws []word) []string {
	var out []string
	for i := 0; i+1 < len(ws); i++ {
		if ws[i].han || ws[i+1].han {
			continue
		}
		if t := stem(ws[i].s + ws[i+1].s); kb.postings[t] != nil {
			out = append(out, t)
		}
		j := i
		for j < len(ws) && !ws[j].han && len(ws[j].s) == 1 {
			j++
		}
		if j-i > 2 {
			var b strings.Builder
			for _, w := range ws[i:j] {
				b.WriteString(w.s)
			}
			if t := stem(b.String()); kb.postings[t] != nil {
				out = append(out, t)
			}
		}
	}
	return out
}

// nearMisses are the known terms one edit (insertion, deletion,
// substitution or swap of neighbours) from t, and for a long t, known
// terms it begins or that begin it: recognizers confuse similar words
// ("pen" for "pin") and cut or add endings.
func (kb *Base) nearMisses(t string) []string {
	var out []string
	for _, v := range kb.vocab {
		if len(v) >= len(t)-1 && len(v) <= len(t)+1 && oneEdit(t, v) {
			out = append(out, v)
		}
	}
	if len(t) >= 5 {
		// Terms that t begins are a contiguous run of the sorted vocab.
		i, _ := slices.BinarySearch(kb.vocab, t)
		for ; i < len(kb.vocab) && strings.HasPrefix(kb.vocab[i], t); i++ {
			out = append(out, kb.vocab[i])
		}
		for n := len(t) - 1; n >= 5; n-- {
			if _, ok := slices.BinarySearch(kb.vocab, t[:n]); ok {
				out = append(out, t[:n])
				break
			}
		}
	}
	return out
}

// oneEdit reports whether a and b, which differ, are one edit apart.
func oneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	switch len(b) - len(a) {
	case 0:
		if i == len(a) {
			return false
		}
		if a[i+1:] == b[i+1:] {
			return true
		}
		return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case 1:
		return a[i:] == b[i+1:]
	}
	return false
}

// Source returns the passage of ps that text repeats: the one sharing the
// most of text's terms, when it shares at least half of them (and two at
// least). A model answering from passages rewords them a little; a
// sentence that shares less is not theirs, and names no source.
func Source(text string, ps []Passage) (Passage, bool) {
	want := map[string]bool{}
	for _, t := range tokenize(text) {
		want[t] = true
	}
	best, bestN := -1, 0
	for i, p := range ps {
		n := 0
		seen := map[string]bool{}
		for _, t := range tokenize(p.Heading + " " + p.Text) {
			if want[t] && !seen[t] {
				seen[t] = true
				n++
			}
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	if best < 0 || bestN < 2 || 2*bestN < len(want) {
		return Passage{}, false
	}
	return ps[best], true
}
