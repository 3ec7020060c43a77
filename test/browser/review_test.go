package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/dialog/rules"
	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/examples/bank"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/store"
)

// flowIntents is the bank flow's rule brain as the review's API sees it.
type flowIntents struct{ b *rules.Brain }

func (f flowIntents) Intents() []api.IntentView {
	var out []api.IntentView
	for _, it := range f.b.Flow().Intents {
		out = append(out, api.IntentView{Name: it.Name, Title: it.Title})
	}
	return out
}

func (f flowIntents) AddExample(intent, lang, phrase string) error {
	err := f.b.AddExample(intent, lang, phrase)
	if errors.Is(err, rules.ErrUnknownIntent) {
		return fmt.Errorf("%w: %w", api.ErrUnknownIntent, err)
	}
	return err
}

// reviewStep is a line review.mjs prints.
type reviewStep struct {
	stepHead
	Filters map[string][]int64 `json:"filters"`
	Call    struct {
		AudioSrc     string
		AudioSeconds float64
		Timeline     []string
		Transcript   []string
		Tags         []string
	} `json:"call"`
	Seq         int        `json:"seq"`
	Prefilled   string     `json:"prefilled"`
	PhraseNote  string     `json:"phraseNote"`
	ArticleNote string     `json:"articleNote"`
	Verdict     string     `json:"verdict"`
	Ranges      []string   `json:"ranges"`
	Figures     [][]string `json:"figures"`
	Knowledge   []struct {
		Method, URL, Type, Auth string
		Status                  int
	} `json:"knowledge"`
}

// A supervisor signs in to the review page, filters the finished calls,
// opens one: its redacted transcript, the recording the audio element
// plays by ranges, the emotion timeline. An answer marked wrong with the
// right one becomes, in one step, an example phrase the rule brain then
// matches, and a knowledge article; the daily figures count it.
func TestReviewInChromium(t *testing.T) {
	chromium := needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir := t.TempDir()
	recDir := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := openStore(ctx, t, filepath.Join(dir, "hotline.db"))

	flow, err := bank.RuleFlow()
	if err != nil {
		t.Fatal(err)
	}
	brain := rules.New(flow, nil)
	const swallowed = "the machine swallowed my plastic"
	if m := flow.Match(swallowed); m.Intent == "lost_card" && m.Score >= flow.Threshold {
		t.Fatalf("%q already means lost_card (%+v): the test teaches nothing", swallowed, m)
	}

	// Three calls ended ten minutes ago, and one still open.
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	type turn struct {
		speaker, text, intent, emotion string
		conf                           float64
	}
	call := func(from string, at time.Time, turns []turn, end func(id int64)) int64 {
		t.Helper()
		id, err := st.CallStarted(ctx, store.CallStart{CallID: fmt.Sprintf("review-%s@test", from), From: from, To: "100", At: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CallAnswered(ctx, id, at); err != nil {
			t.Fatal(err)
		}
		for i, tn := range turns {
			tr := store.Turn{At: at.Add(time.Duration(2*i+1) * time.Second), Speaker: tn.speaker, Text: tn.text, Intent: tn.intent, Confidence: tn.conf}
			if tn.emotion != "" {
				tr.Emotion = json.RawMessage(`{"label":"` + tn.emotion + `","arousal":0.6,"trend":"rising"}`)
			}
			if _, err := st.AddTurn(ctx, id, tr); err != nil {
				t.Fatal(err)
			}
		}
		if end != nil {
			end(id)
		}
		return id
	}
	ended := func(after time.Duration, agent string) func(int64) {
		return func(id int64) {
			if err := st.CallEnded(ctx, id, store.CallEnd{At: start.Add(after), Disposition: store.DispositionCompleted, Agent: agent, HangupSide: store.SideCaller}); err != nil {
				t.Fatal(err)
			}
		}
	}
	lost := call("+14155550123", start, []turn{
		{store.SpeakerCaller, swallowed, "", "tense", 0.34},
		{store.SpeakerHotline, "Sorry, I did not catch that. Could you say it again?", "", "", -1},
		{store.SpeakerCaller, "my card is gone, call me on 415 555 0199", "", "angry", 0.81},
		{store.SpeakerHotline, "I can block your card now. What are its last four digits?", "lost_card", "", -1},
	}, ended(8*time.Second, ""))
	wav := filepath.Join(recDir, "lost.wav")
	writeWAV(t, wav, audiotest.Tone(wavRate, hotlineHz, 0.3, wavRate*wavSeconds))
	if _, err := st.AddRecording(ctx, lost, store.Recording{Path: wav, Kind: store.RecordingCall, StartedAt: start, Duration: wavSeconds * time.Second}); err != nil {
		t.Fatal(err)
	}
	crisis := call("+14155550177", start.Add(time.Minute), []turn{
		{store.SpeakerCaller, "I can't go on any more", "", "sad", 0.77},
		{store.SpeakerHotline, "You matter. I am connecting you with someone who can help right now.", "", "", -1},
	}, func(id int64) {
		if _, err := st.AddCrisisAlert(ctx, id, store.CrisisAlert{At: start.Add(time.Minute + 2*time.Second), Category: "self_harm", Excerpt: "I can't go on", Action: "transferred to the crisis queue"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddTransfer(ctx, id, store.Transfer{At: start.Add(time.Minute + 3*time.Second), Queue: "crisis", Reason: "crisis: the caller may be at risk"}); err != nil {
			t.Fatal(err)
		}
		ended(time.Minute+90*time.Second, "bob")(id)
	})
	balance := call("+14155550188", start.Add(2*time.Minute), []turn{
		{store.SpeakerCaller, "what is my balance", "", "calm", 0.93},
		{store.SpeakerHotline, "Your balance is in the app, under Accounts.", "balance", "", -1},
	}, ended(2*time.Minute+20*time.Second, ""))
	call("+14155550199", start.Add(3*time.Minute), []turn{{store.SpeakerCaller, "hello", "", "", 0.2}}, nil)

	bus := events.NewBus(0)
	kdir := filepath.Join(dir, "knowledge")
	if err := os.MkdirAll(kdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kdir, "cards.md"), []byte("# Cards\n\nA lost card is blocked at once.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kb, err := knowledge.LoadLive(kdir)
	if err != nil {
		t.Fatal(err)
	}
	hs := serveAPI(t, recDir, api.Deps{Store: st, Events: bus, Intents: flowIntents{brain}, Knowledge: kb}, warnLog(t))

	shots := screenshotDir(t)
	cmd := script(ctx, t, chromium, "review.mjs", hs.URL, supToken, shots, strconv.FormatInt(lost, 10))
	next := readSteps[reviewStep](t, cancel, "review.mjs", startScript(t, cmd))
	defer waitScript(t, cmd)

	f := next("filtered").Filters
	for name, want := range map[string][]int64{
		"all":         {balance, crisis, lost}, // the open call is not finished
		"crisis":      {crisis},
		"transferred": {crisis},
		"angry":       {lost},
		"low":         {lost},
		"lostCard":    {lost},
	} {
		if !slices.Equal(f[name], want) {
			t.Errorf("filter %s lists %v, want %v", name, f[name], want)
		}
	}

	r := next("reviewed")
	c := r.Call
	if !strings.HasPrefix(c.AudioSrc, fmt.Sprintf("/api/v1/calls/%d/recordings/", lost)) || !strings.Contains(c.AudioSrc, "sig=") {
		t.Errorf("audio src %q: want the call's recording, signed", c.AudioSrc)
	}
	if c.AudioSeconds < wavSeconds-0.1 || c.AudioSeconds > wavSeconds+0.1 {
		t.Errorf("audio of %.2f s, want %d s", c.AudioSeconds, wavSeconds)
	}
	if !slices.ContainsFunc(r.Ranges, func(h string) bool { return strings.HasPrefix(h, "bytes=") }) {
		t.Errorf("the audio element asked for no range: %q", r.Ranges)
	}
	if want := []string{"emo emo-tense", "emo emo-angry"}; !slices.Equal(c.Timeline, want) {
		t.Errorf("emotion timeline %q, want %q", c.Timeline, want)
	}
	if len(c.Transcript) != 4 || c.Transcript[0] != "caller: "+swallowed || !strings.Contains(c.Transcript[2], "[phone]") ||
		strings.Contains(strings.Join(c.Transcript, " "), "555") {
		t.Errorf("transcript %q: want it redacted", c.Transcript)
	}
	if !slices.Contains(c.Tags, "Lost or stolen card") || !slices.Contains(c.Tags, "heard 34%") {
		t.Errorf("tags %q: want the reply's intent and the low confidence", c.Tags)
	}
	if r.Seq != 2 || r.Verdict != "wrong" || r.Prefilled != swallowed || !strings.Contains(r.PhraseNote, "now means Lost or stolen card") {
		t.Errorf("marking: seq %d, verdict %q, phrase %q, note %q", r.Seq, r.Verdict, r.Prefilled, r.PhraseNote)
	}

	// The mark, the phrase in the store, and the brain matching it live.
	d, err := st.Call(ctx, lost)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Marks) != 1 || d.Marks[0].Seq != 2 || d.Marks[0].Verdict != store.VerdictWrong || d.Marks[0].By != "sup" ||
		!strings.HasPrefix(d.Marks[0].Correction, "I am sorry the machine kept your card.") {
		t.Errorf("marks %+v", d.Marks)
	}
	ex, err := st.Examples(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 1 || ex[0].Intent != "lost_card" || ex[0].Phrase != swallowed || ex[0].Call != lost || ex[0].Seq != 2 {
		t.Errorf("examples %+v", ex)
	}
	if m := flow.Match(swallowed); m.Intent != "lost_card" || m.Score < flow.Threshold {
		t.Errorf("the brain takes %q for %+v, want lost_card", swallowed, m)
	}

	// The article the page sent, and the knowledge base now serving it.
	if len(r.Knowledge) != 1 {
		t.Fatalf("knowledge requests %+v, want one", r.Knowledge)
	}
	k := r.Knowledge[0]
	u, err := url.Parse(k.URL)
	if err != nil {
		t.Fatal(err)
	}
	if k.Method != "PUT" || u.Path != fmt.Sprintf("/api/v1/knowledge/review-%d-2", lost) || u.Query().Get("title") != swallowed ||
		!strings.HasPrefix(k.Type, "text/markdown") || k.Auth != "Bearer "+supToken || k.Status != http.StatusCreated {
		t.Errorf("knowledge request %+v", k)
	}
	doc, err := kb.Article(fmt.Sprintf("review-%d-2", lost), 1)
	if err != nil || doc.Text != "# "+swallowed+"\n\nI am sorry the machine kept your card. I can block it now and send you a new one.\n" || doc.Source != fmt.Sprintf("review of call %d", lost) {
		t.Errorf("published article %+v (%v)", doc, err)
	}
	if p := kb.Search("machine kept my card", 1); len(p) == 0 || !strings.Contains(p[0].Text, "I can block it now") {
		t.Errorf("the knowledge base does not answer from the new article: %+v", p)
	}
	if !strings.Contains(r.ArticleNote, "Article “"+swallowed+"” published") {
		t.Errorf("article note %q", r.ArticleNote)
	}

	// Today's figures: three calls, two contained (67%), the crisis
	// hand-over, 8, 90 and 20 s of handling, and the answer marked wrong.
	today := start.UTC().Format("2006-01-02")
	var row []string
	for _, fr := range r.Figures {
		if fr[0] == today {
			row = fr
		}
	}
	if want := []string{today, "3", "267%", "1 × crisis: the caller may be at risk", "0:39", "1", "1"}; !slices.Equal(row, want) {
		t.Errorf("figures of %s: %q, want %q", today, row, want)
	}
	t.Logf("screenshots in %s", shots)
}
