package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// After a SIPp caller has talked with Hotline, the operator finds the call
// through the API (with its transcript and emotion timeline, and its
// recording by range), the live stream showed it as it happened, and the
// metrics count it.
func TestOperatorSeesTheCall(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	n := startHotline(t, "", "dialog: {brain: rules}")
	base := "http://" + fmt.Sprint(n.logs.must(t, "api listening", nil, time.Second)["addr"])
	get := func(path, token string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	decode := func(resp *http.Response, v any) {
		t.Helper()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %s %s", resp.Request.URL.Path, resp.Status, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}

	// The live stream, open before the call.
	stream := get("/api/v1/events", e2eAPIToken)
	if stream.StatusCode != 200 {
		t.Fatalf("event stream: %s", stream.Status)
	}
	seen := make(chan string, 100)
	go func() {
		defer close(seen)
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if typ, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				seen <- typ
			}
		}
	}()

	c := startSpokenCall(t, n, "slt", []string{"what are your opening hours", "goodbye"},
		[]time.Duration{4 * time.Second, 16 * time.Second})
	sr := c.sipp.wait(t)
	c.capt.stop(t)
	sr.expectSuccess(t)
	n.logs.must(t, "call ended", map[string]any{"call_id": sr.CallID}, 5*time.Second)

	var types []string
	for typ := range seen {
		types = append(types, typ)
		if typ == "call.ended" {
			break
		}
	}
	if len(types) < 4 || types[0] != "call.started" || !contains(types, "turn") {
		t.Errorf("live events %q, want call.started, the turns, call.ended", types)
	}

	if r := get("/api/v1/calls", ""); r.StatusCode != 401 {
		t.Errorf("calls without a token: %s, want 401", r.Status)
	}
	var page struct {
		Calls []struct {
			ID          int64  `json:"id"`
			CallID      string `json:"call_id"`
			Disposition string `json:"disposition"`
		} `json:"calls"`
	}
	decode(get("/api/v1/calls", e2eAPIToken), &page)
	if len(page.Calls) != 1 || page.Calls[0].CallID != sr.CallID || page.Calls[0].Disposition != "completed" {
		t.Fatalf("calls %+v, want the one completed call", page.Calls)
	}
	var detail struct {
		Turns []struct {
			Speaker string `json:"speaker"`
			Text    string `json:"text"`
		} `json:"transcript"`
		Emotions   []json.RawMessage `json:"emotions"`
		Recordings []struct {
			URL string `json:"url"`
		} `json:"recordings"`
	}
	decode(get(fmt.Sprintf("/api/v1/calls/%d", page.Calls[0].ID), e2eAPIToken), &detail)
	var said []string
	for _, tn := range detail.Turns {
		if tn.Speaker == "caller" {
			said = append(said, tn.Text)
		}
	}
	if !contains(said, "what are your opening hours") || len(detail.Emotions) == 0 || len(detail.Recordings) == 0 {
		t.Fatalf("call detail: caller said %q, %d emotion points, %d recordings", said, len(detail.Emotions), len(detail.Recordings))
	}
	rec := get(detail.Recordings[0].URL, e2eAPIToken, "Range", "bytes=0-43")
	if b, _ := io.ReadAll(rec.Body); rec.StatusCode != 206 || len(b) != 44 || string(b[:4]) != "RIFF" {
		t.Errorf("recording's first 44 bytes: %s, %d bytes %q", rec.Status, len(b), b[:min(4, len(b))])
	}

	metrics, _ := io.ReadAll(get("/metrics", "").Body)
	for _, want := range []string{`hotline_calls_total{disposition="completed"} 1`, `hotline_calls_active 0`,
		`hotline_asr_latency_seconds_count{provider="embedded"}`, `hotline_turn_latency_seconds_count`,
		`hotline_sip_responses_total{code="200"}`, `hotline_rtp_jitter_milliseconds_count 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Both of the caller's turns were answered: the greeting aside, two
	// replies had their turn latency measured.
	if !regexp.MustCompile(`(?m)^hotline_turn_latency_seconds_count [1-9]`).Match(metrics) {
		t.Errorf("no turn latency measured:\n%s", grepLines(string(metrics), "turn_latency"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
