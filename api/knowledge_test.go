package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/store"
)

// knowledgeFixture is the API over a knowledge folder holding the opening
// hours.
func knowledgeFixture(t *testing.T) (*fixture, *knowledge.Live) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "branches"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "branches", "opening-hours.md"),
		[]byte("# Opening hours\n\nOur branches are open Monday to Friday from nine to five.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kb, err := knowledge.LoadLive(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(d *Deps) { d.Knowledge = kb })
	return f, kb
}

type articleAnswer struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Version   int        `json:"version"`
	Source    string     `json:"source"`
	Effective *time.Time `json:"effective"`
	Expires   *time.Time `json:"expires"`
	Active    bool       `json:"active"`
	Text      string     `json:"text"`
	Error     string     `json:"error"`
}

func answerFrom(kb *knowledge.Live) string {
	ps := kb.Search("opening hours", 1)
	if len(ps) == 0 {
		return ""
	}
	return fmt.Sprintf("v%d %s", ps[0].Version, ps[0].Text)
}

func TestKnowledgeAuth(t *testing.T) {
	f, _ := knowledgeFixture(t)
	for _, c := range []struct{ method, path, ctype, body string }{
		{"GET", "/api/v1/knowledge", "", ""},
		{"GET", "/api/v1/knowledge/branches/opening-hours", "", ""},
		{"PUT", "/api/v1/knowledge/branches/opening-hours", "text/plain", "Open every day."},
		{"DELETE", "/api/v1/knowledge/branches/opening-hours", "", ""},
	} {
		if r := f.send(t, c.method, c.path, "", c.ctype, c.body); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d", c.method, c.path, r.status)
		}
		if r := f.send(t, c.method, c.path, "not-a-token-0123456789", c.ctype, c.body); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s with an unknown token: %d", c.method, c.path, r.status)
		}
		if r := f.send(t, c.method, c.path, aliceToken, c.ctype, c.body); r.status != http.StatusForbidden {
			t.Errorf("%s %s as an agent: %d", c.method, c.path, r.status)
		}
	}
	// Nothing an agent sent was taken.
	if r := f.get(t, "/api/v1/knowledge/branches/opening-hours", supToken); r.status != http.StatusOK || !strings.Contains(string(r.body), `"version":1`) {
		t.Errorf("after refused requests: %d %s", r.status, r.body)
	}
}

func TestKnowledgeUploadReplaceDelete(t *testing.T) {
	f, kb := knowledgeFixture(t)
	const hours = "/api/v1/knowledge/branches/opening-hours"

	r := f.send(t, "PUT", hours+"?source=operations&title=Opening+hours", supToken, "text/markdown; charset=utf-8",
		"# Opening hours\n\nOur branches are open every day from eight to eight.\n")
	var a articleAnswer
	r.json(t, &a)
	if r.status != http.StatusOK || a.ID != "branches/opening-hours" || a.Version != 2 || !a.Active || a.Source != "operations" ||
		a.Title != "Opening hours" || a.Effective == nil || a.Expires != nil {
		t.Fatalf("replace: %d %s", r.status, r.body)
	}
	if got := answerFrom(kb); !strings.HasPrefix(got, "v2 Our branches are open every day") {
		t.Errorf("after the replace the answer is %q", got)
	}

	r = f.send(t, "PUT", "/api/v1/knowledge/policies/refunds?effective=2020-01-01&expires=2999-01-01", adminToken, "text/html",
		"<html><head><title>Refunds</title><script>steal()</script></head><body><p>Refunds are paid within ten days &amp; free.</p></body></html>")
	a = articleAnswer{}
	r.json(t, &a)
	if r.status != http.StatusCreated || a.Version != 1 || a.Title != "Refunds" || a.Source != "api" || !a.Active ||
		a.Effective == nil || !a.Effective.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) || a.Expires == nil ||
		r.header.Get("Location") != "/api/v1/knowledge/policies/refunds" {
		t.Fatalf("new article: %d %s %v", r.status, r.body, r.header)
	}
	r = f.get(t, "/api/v1/knowledge/policies/refunds", supToken)
	a = articleAnswer{}
	r.json(t, &a)
	if r.status != http.StatusOK || strings.Contains(a.Text, "steal") || !strings.Contains(a.Text, "Refunds are paid within ten days & free.") {
		t.Errorf("article: %d %s", r.status, r.body)
	}

	r = f.get(t, "/api/v1/knowledge", supToken)
	var list struct{ Articles []articleAnswer }
	r.json(t, &list)
	var got []string
	for _, a := range list.Articles {
		got = append(got, fmt.Sprintf("%s v%d %v", a.ID, a.Version, a.Active))
	}
	if want := "branches/opening-hours v2 true|branches/opening-hours v1 false|policies/refunds v1 true"; strings.Join(got, "|") != want {
		t.Errorf("list %q, want %q", got, want)
	}
	r = f.get(t, hours+"?version=1", supToken)
	a = articleAnswer{}
	r.json(t, &a)
	if r.status != http.StatusOK || a.Version != 1 || a.Active || !strings.Contains(a.Text, "nine to five") {
		t.Errorf("version 1: %d %s", r.status, r.body)
	}

	if r := f.send(t, "DELETE", "/api/v1/knowledge/policies/refunds", supToken, "", ""); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if ps := kb.Search("refunds", 1); len(ps) > 0 {
		t.Errorf("a deleted article answers: %+v", ps)
	}
	for _, p := range []string{"/api/v1/knowledge/policies/refunds", hours + "?version=9"} {
		if r := f.get(t, p, supToken); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
	if r := f.send(t, "DELETE", "/api/v1/knowledge/policies/refunds", supToken, "", ""); r.status != http.StatusNotFound {
		t.Errorf("delete again: %d %s", r.status, r.body)
	}
}

// A malformed upload is refused with a clear error, and the version in
// effect keeps serving.
func TestKnowledgeValidation(t *testing.T) {
	f, kb := knowledgeFixture(t)
	const hours = "/api/v1/knowledge/branches/opening-hours"
	before := answerFrom(kb)
	for _, c := range []struct {
		name, path, ctype, body string
		status                  int
		says                    string
	}{
		{"bad date", hours + "?effective=tomorrow", "text/plain", "Open.", 400, `effective "tomorrow": want a date YYYY-MM-DD`},
		{"date and time", hours + "?expires=2030-01-01T10:00:00Z", "text/plain", "Open.", 400, "want a date YYYY-MM-DD"},
		{"dates out of order", hours + "?effective=2030-02-01&expires=2030-01-01", "text/plain", "Open.", 400, "expires must be after effective"},
		{"expired", hours + "?expires=2001-01-01", "text/plain", "Open.", 400, "has passed"},
		{"unknown parameter", hours + "?owner=me", "text/plain", "Open.", 400, `unknown parameter "owner"`},
		{"parameter twice", hours + "?title=a&title=b", "text/plain", "Open.", 400, "given 2 times"},
		{"control characters", hours + "?source=a%00b", "text/plain", "Open.", 400, "want at most 200 characters of text"},
		{"empty", hours, "text/plain", "", 400, "no text to speak"},
		{"only markup", hours, "text/html", "<style>p{}</style><p> </p>", 400, "no text to speak"},
		{"only front matter", hours, "text/markdown", "---\ntitle: x\n---\n", 400, "no text to speak"},
		{"broken front matter", hours, "text/markdown", "---\ntitle: [x\n---\nOpen.", 400, "front matter"},
		{"other article's front matter", hours, "text/markdown", "---\nid: fees\n---\nOpen.", 400, `names article "fees"`},
		{"invalid UTF-8", hours, "text/plain", "Open \xff\xfe.", 400, "not UTF-8"},
		{"too large", hours, "text/plain", strings.Repeat("Open. ", knowledge.MaxArticle/6+1), 413, "larger than"},
		{"no content type", hours, "", "Open.", 415, "want Content-Type text/markdown, text/plain or text/html"},
		{"JSON", hours, "application/json", `{"text":"Open."}`, 415, "want Content-Type"},
		{"another charset", hours, "text/plain; charset=iso-8859-1", "Open.", 415, "in UTF-8"},
		{"bad id", "/api/v1/knowledge/.hidden", "text/plain", "Open.", 400, "want an id"},
		{"id with a space", "/api/v1/knowledge/opening%20hours", "text/plain", "Open.", 400, "want an id"},
		{"empty id", "/api/v1/knowledge/", "text/plain", "Open.", 400, "want an id"},
		{"id too long", "/api/v1/knowledge/" + strings.Repeat("a", 129), "text/plain", "Open.", 400, "want an id"},
	} {
		r := f.send(t, "PUT", c.path, supToken, c.ctype, c.body)
		var e articleAnswer
		r.json(t, &e)
		if r.status != c.status || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.name, r.status, e.Error, c.status, c.says)
		}
		if got := answerFrom(kb); got != before {
			t.Fatalf("%s: the answer became %q", c.name, got)
		}
	}
	if r := f.get(t, "/api/v1/knowledge?x=1", supToken); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "takes none") {
		t.Errorf("list with an unknown parameter: %d", r.status)
	}
	if r := f.get(t, "/api/v1/knowledge/branches/opening-hours?version=0", supToken); r.status != http.StatusBadRequest {
		t.Errorf("version 0: %d", r.status)
	}
}

// Without a knowledge base (the menu brain) the endpoints say so; the
// built-in sample is read only.
func TestKnowledgeNotChangeable(t *testing.T) {
	f := newFixture(t)
	if r := f.get(t, "/api/v1/knowledge", supToken); r.status != http.StatusNotImplemented {
		t.Errorf("no knowledge base: %d %s", r.status, r.body)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.md"), []byte("# A\n\nText."), 0o644); err != nil {
		t.Fatal(err)
	}
	kb, err := knowledge.LiveFS(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	f = newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(d *Deps) { d.Knowledge = kb })
	if r := f.get(t, "/api/v1/knowledge/a", supToken); r.status != http.StatusOK {
		t.Errorf("read: %d %s", r.status, r.body)
	}
	r := f.send(t, "PUT", "/api/v1/knowledge/a", supToken, "text/plain", "New text.")
	if r.status != http.StatusConflict || !strings.Contains(string(r.body), "dialog.knowledge") {
		t.Errorf("put: %d %s", r.status, r.body)
	}
	if r := f.send(t, "DELETE", "/api/v1/knowledge/a", supToken, "", ""); r.status != http.StatusConflict {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
}

// The call detail names the article and version an answer came from.
func TestCallDetailCitation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := must(f.store.CallStarted(ctx, store.CallStart{CallID: "cited@test", From: "+15550100", To: "100", At: t0}))(t)
	must(f.store.AddTurn(ctx, id, store.Turn{Speaker: store.SpeakerCaller, Text: "opening hours", Confidence: -1}))(t)
	must(f.store.AddTurn(ctx, id, store.Turn{Speaker: store.SpeakerHotline, Text: "Open every day.", Confidence: -1,
		Article: "branches/opening-hours", ArticleVersion: 2}))(t)
	r := f.get(t, fmt.Sprintf("/api/v1/calls/%d", id), supToken)
	var d struct {
		Transcript []struct {
			Speaker  string
			Citation *struct {
				Article string
				Version int
			}
		}
	}
	r.json(t, &d)
	if len(d.Transcript) != 2 || d.Transcript[0].Citation != nil || d.Transcript[1].Citation == nil ||
		d.Transcript[1].Citation.Article != "branches/opening-hours" || d.Transcript[1].Citation.Version != 2 {
		t.Errorf("transcript %s", r.body)
	}
}

// Whatever the upload, the API answers a 2xx with the article, or a 4xx
// with a short, clear error after which the version in effect is the one
// before; never a 5xx.
func FuzzKnowledgeUpload(f *testing.F) {
	for _, seed := range []struct{ query, ctype, body string }{
		{"", "text/plain", "Open every day."},
		{"title=Hours&source=memo&effective=2020-01-01&expires=2999-12-31", "text/markdown", "---\ntitle: x\n---\n# Hours\n\nOpen."},
		{"effective=2026-02-30", "text/html; charset=UTF-8", "<p>Open &amp; <b>closed</b></p><script>x</script>"},
		{"expires=1999-01-01", "text/markdown", "---\nid: other\n---\nx"},
		{"a=1", "image/png", "\x89PNG"},
		{"title=%00", "text/plain", "\xff"},
	} {
		f.Add(seed.query, seed.ctype, seed.body)
	}
	dir := f.TempDir()
	kb, err := knowledge.LoadLive(dir)
	if err != nil {
		f.Fatal(err)
	}
	st := openStore(f)
	h, err := New(testConfig(""), Deps{Store: st, Events: events.NewBus(0), Knowledge: kb}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query, ctype, body string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		before := kb.Articles()
		req := httptest.NewRequest("PUT", "/api/v1/knowledge/hours?"+q.Encode(), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+supToken)
		req.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var a articleAnswer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("%d %q: %v", w.Code, w.Body, err)
		}
		switch {
		case w.Code == http.StatusOK || w.Code == http.StatusCreated:
			if a.ID != "hours" || a.Version < 1 {
				t.Fatalf("accepted: %s", w.Body)
			}
			// The folder is kept small, so each run is as quick as the first.
			if err := kb.Delete("hours"); err != nil {
				t.Fatal(err)
			}
		case w.Code >= 400 && w.Code < 500:
			if a.Error == "" || len(a.Error) > maxErrText || !utf8.ValidString(a.Error) {
				t.Fatalf("%d error %q", w.Code, a.Error)
			}
			if after := kb.Articles(); !reflect.DeepEqual(after, before) {
				t.Fatalf("refused (%s), yet the articles changed", a.Error)
			}
		default:
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}
