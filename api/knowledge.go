package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/knowledge"
)

// Knowledge is the knowledge base the dialog answers from, as the API
// manages it (knowledge.Live).
type Knowledge interface {
	// Articles describes every version of every article.
	Articles() []knowledge.Info
	// Article is a version of an article with its text; 0 is the one in
	// effect. knowledge.ErrNotFound when there is none.
	Article(id string, version int) (knowledge.Doc, error)
	// Put adds the next version of an article and reports whether the
	// article is new.
	Put(id string, up knowledge.Upload) (knowledge.Info, bool, error)
	// Delete removes every version of an article.
	Delete(id string) error
}

// articleJSON is one version of a knowledge article. Times are RFC 3339
// in UTC; an article in effect since always, or that never expires, has
// none.
type articleJSON struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Version   int        `json:"version"`
	Source    string     `json:"source"`
	Effective *time.Time `json:"effective,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	// Active is set on the version the dialog cites now.
	Active bool `json:"active"`
}

type articleDetailJSON struct {
	articleJSON
	// Text is the article's Markdown, without its front matter.
	Text string `json:"text"`
}

func toArticle(in knowledge.Info) articleJSON {
	return articleJSON{ID: in.ID, Title: in.Title, Version: in.Version, Source: in.Source,
		Effective: optTime(in.Effective), Expires: optTime(in.Expires), Active: in.Active}
}

// knowledgeBase is the node's knowledge base, or nil after a 501.
func (s *server) knowledgeBase(w http.ResponseWriter) Knowledge {
	if s.deps.Knowledge == nil {
		writeError(w, http.StatusNotImplemented, "this node has no knowledge base (dialog.brain is menu)")
	}
	return s.deps.Knowledge
}

func (s *server) listArticles(w http.ResponseWriter, r *http.Request) {
	kb := s.knowledgeBase(w)
	if kb == nil {
		return
	}
	if err := newParams(r.URL.Query()).err; err != nil {
		s.fail(w, r, err)
		return
	}
	out := []articleJSON{}
	for _, in := range kb.Articles() {
		out = append(out, toArticle(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"articles": out})
}

func (s *server) article(w http.ResponseWriter, r *http.Request) {
	kb, id, ok := s.articleFor(w, r)
	if !ok {
		return
	}
	p := newParams(r.URL.Query(), "version")
	version := 0
	if v := p.str("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			p.fail(badf("version %s: want a positive number", echo(v)))
		}
		version = n
	}
	if p.err != nil {
		s.fail(w, r, p.err)
		return
	}
	doc, err := kb.Article(id, version)
	if err != nil {
		s.knowledgeFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, articleDetailJSON{articleJSON: toArticle(doc.Info), Text: doc.Text})
}

// articleFormats are the documents PUT takes, by media type.
var articleFormats = map[string]knowledge.Format{
	"text/markdown":   knowledge.Markdown,
	"text/x-markdown": knowledge.Markdown,
	"text/plain":      knowledge.Text,
	"text/html":       knowledge.HTML,
}

// putArticle adds the next version of an article from the body: 201 for
// a new article, 200 for a new version of one. The version in effect
// before keeps serving when anything is wrong.
func (s *server) putArticle(w http.ResponseWriter, r *http.Request) {
	kb, id, ok := s.articleFor(w, r)
	if !ok {
		return
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format, known := articleFormats[mt]
	if cs := strings.ToLower(mp["charset"]); err != nil || !known || (cs != "" && cs != "utf-8" && cs != "us-ascii") {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type text/markdown, text/plain or text/html, in UTF-8")
		return
	}
	up, err := parseUpload(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	up.Format = format
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, knowledge.MaxArticle))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the document is larger than %d bytes", knowledge.MaxArticle))
		return
	case err != nil:
		s.fail(w, r, badf("reading the document: %v", err))
		return
	}
	up.Body = string(body)
	info, created, err := kb.Put(id, up)
	if err != nil {
		s.knowledgeFail(w, r, err)
		return
	}
	s.log.Info("api: knowledge article put", "article", info.ID, "version", info.Version, "active", info.Active,
		"by", principalOf(r.Context()).name)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/knowledge/"+info.ID)
	}
	writeJSON(w, status, toArticle(info))
}

// parseUpload reads PUT's parameters.
func parseUpload(r *http.Request) (knowledge.Upload, error) {
	p := newParams(r.URL.Query(), "title", "source", "effective", "expires")
	day := func(k string) time.Time {
		v := p.str(k)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			p.fail(badf("%s %s: want a date YYYY-MM-DD", k, echo(v)))
		}
		return t
	}
	label := func(k string) string {
		v := p.str(k)
		if len(v) > maxLabel || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			p.fail(badf("%s %s: want at most %d characters of text", k, echo(v), maxLabel))
			return ""
		}
		return strings.TrimSpace(v)
	}
	up := knowledge.Upload{Title: label("title"), Source: label("source"), Effective: day("effective"), Expires: day("expires")}
	if !up.Effective.IsZero() && !up.Expires.IsZero() && !up.Expires.After(up.Effective) {
		p.fail(badf("expires must be after effective"))
	}
	return up, p.err
}

// maxLabel bounds an article's title and source.
const maxLabel = 200

func (s *server) deleteArticle(w http.ResponseWriter, r *http.Request) {
	kb, id, ok := s.articleFor(w, r)
	if !ok {
		return
	}
	if err := newParams(r.URL.Query()).err; err != nil {
		s.fail(w, r, err)
		return
	}
	if err := kb.Delete(id); err != nil {
		s.knowledgeFail(w, r, err)
		return
	}
	s.log.Info("api: knowledge article deleted", "article", id, "by", principalOf(r.Context()).name)
	w.WriteHeader(http.StatusNoContent)
}

// articleFor is the node's knowledge base and the article's id from the
// path (words joined by /), or false after answering.
func (s *server) articleFor(w http.ResponseWriter, r *http.Request) (Knowledge, string, bool) {
	kb := s.knowledgeBase(w)
	if kb == nil {
		return nil, "", false
	}
	id := r.PathValue("id")
	if !knowledge.ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("article %s: want an id of letters, digits, - _ . in words joined by /", echo(id)))
		return nil, "", false
	}
	return kb, id, true
}

// knowledgeFail answers an error of the knowledge base.
func (s *server) knowledgeFail(w http.ResponseWriter, r *http.Request, err error) {
	msg := strings.TrimPrefix(err.Error(), "knowledge: ")
	switch {
	case errors.Is(err, knowledge.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such article")
	case errors.Is(err, knowledge.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, msg)
	case errors.Is(err, knowledge.ErrMalformed):
		writeError(w, http.StatusBadRequest, msg)
	case errors.Is(err, knowledge.ErrReadOnly):
		writeError(w, http.StatusConflict, knowledge.ErrReadOnly.Error())
	default:
		s.fail(w, r, err)
	}
}
