package store

import (
	"errors"
	"testing"
	"time"
)

// A turn keeps the knowledge article and version it answered from; other
// turns name none, and half a citation is refused.
func testCitations(t *testing.T, db newDB) {
	s := open(t, db(t))
	id := startCall(t, s, CallStart{From: "+15550100", To: "100", Channel: ChannelTrunk, At: at(0)})
	turns := []Turn{
		{At: at(time.Second), Speaker: SpeakerCaller, Text: "what are your opening hours", Confidence: -1},
		{At: at(2 * time.Second), Speaker: SpeakerHotline, Text: "Our branches are open every day.", Confidence: -1,
			Article: "branches/opening-hours", ArticleVersion: 3},
		{At: at(3 * time.Second), Speaker: SpeakerHotline, Text: "Anything else?", Confidence: -1},
	}
	for _, tu := range turns {
		must(s.AddTurn(ctx, id, tu))(t)
	}
	d := must(s.Call(ctx, id))(t)
	if len(d.Turns) != 3 {
		t.Fatalf("%d turns", len(d.Turns))
	}
	for i, g := range d.Turns {
		if g.Article != turns[i].Article || g.ArticleVersion != turns[i].ArticleVersion {
			t.Errorf("turn %d cites %q v%d, want %q v%d", i+1, g.Article, g.ArticleVersion, turns[i].Article, turns[i].ArticleVersion)
		}
	}
	for _, bad := range []Turn{
		{Speaker: SpeakerHotline, Article: "fees"},
		{Speaker: SpeakerHotline, ArticleVersion: 2},
		{Speaker: SpeakerHotline, Article: "fees", ArticleVersion: -1},
	} {
		if _, err := s.AddTurn(ctx, id, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("turn citing %q v%d: %v, want ErrInvalid", bad.Article, bad.ArticleVersion, err)
		}
	}
}
