// Package knowledge is the knowledge base both dialog brains answer from: a
// folder of Markdown articles, split into sections and searched with BM25.
//
// Each article is cut at its headings: the first # heading is the title,
// every # to ### heading starts a section, and the text before the first
// section heading is a section of its own. A section's text is stripped of
// Markdown so a speech synthesizer can read it aloud: links keep their
// words, list items and table rows become sentences, code blocks and images
// are dropped because they cannot be spoken. Optional YAML front matter sets
// the title and adds keywords that every section of the article is found by.
//
// Front matter also names the article (id, else the file's path without
// .md), its version, its source, and when it is in effect (effective,
// expires). Several versions of one article may exist; a search cites, of
// each article, the newest version in effect on Live's clock, and every
// Passage says which article and version it is from. Documents put through
// Live (Markdown, plain text, or HTML reduced to its text) become the next
// version, written into the folder.
//
// Search ranks sections with BM25 (k1 1.2, b 0.75) over their title,
// heading, keywords and text, the first three weighted up. Words are lower
// cased, lightly stemmed and stripped of stopwords; Chinese is indexed as
// character bigrams plus single characters, so it needs no word segmenter,
// and mixed English and Chinese works. Queries come from a speech
// recognizer, so a query word the base has never seen is looked up once
// more as the closest known words (one edit away, or sharing a long
// prefix), and words the recognizer split ("log in", "a t m") are joined.
//
// A Base never changes after it is built and is safe for concurrent use; Live
// reloads by building a new one and swapping a pointer. A file
// that cannot be read as an article fails the whole load with an error
// naming it, so a broken edit never silently drops answers: the caller keeps
// serving the old Base.
package knowledge
