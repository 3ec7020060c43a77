package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// The cost of one request listing calls, over a store of benchCalls calls,
// a fifth of them with an angry turn: in process (the handler alone) and
// over loopback HTTP (what a dashboard pays).
const benchCalls = 500

func BenchmarkListCalls(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	for i := range benchCalls {
		at := t0.Add(time.Duration(i) * time.Minute)
		id := must(f.store.CallStarted(ctx, store.CallStart{CallID: fmt.Sprintf("bench-%d@test", i), From: fmt.Sprintf("+1415555%04d", i), To: "100", At: at}))(b)
		if i%5 == 0 {
			must(f.store.AddTurn(ctx, id, store.Turn{At: at, Speaker: store.SpeakerCaller, Text: "this is the third time I call",
				Confidence: -1, Emotion: json.RawMessage(`{"label":"angry","arousal":0.8}`)}))(b)
		}
		must(0, f.store.CallEnded(ctx, id, store.CallEnd{At: at.Add(time.Minute), Disposition: store.DispositionCompleted}))(b)
	}
	h := f.srv.Config.Handler
	for _, c := range []struct{ name, query string }{
		{"page50", ""},
		{"page1000", "?limit=1000"},
		{"emotion", "?emotion=angry"},
		{"number", "?number=5550042"},
	} {
		b.Run(c.name+"/handler", func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/calls"+c.query, nil)
			req.Header.Set("Authorization", "Bearer "+supToken)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
		b.Run(c.name+"/http", func(b *testing.B) {
			client := f.srv.Client()
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v1/calls"+c.query, nil)
				req.Header.Set("Authorization", "Bearer "+supToken)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
