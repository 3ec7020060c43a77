package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPagesAreServed(t *testing.T) {
	hs := httptest.NewServer(Handler())
	defer hs.Close()
	for _, p := range []struct{ path, want string }{
		{"/caller/", "<title>Call us</title>"},
		{"/caller/caller.js", "window.hotlineCaller"},
		{"/caller/caller.css", ".meter"},
		{"/shared/signaling.js", "setCodecPreferences"},
		{"/shared/desk.js", "const HotlineDesk"},
		{"/shared/desk.css", ".emo-angry"},
		{"/agent/", "<title>Hotline agent</title>"},
		{"/agent/agent.js", "window.hotlineAgent"},
		{"/supervisor/", "<title>Hotline supervisor</title>"},
		{"/supervisor/supervisor.js", "alerts/"},
		{"/review/", "<title>Hotline review</title>"},
		{"/review/review.js", "/api/v1/figures"},
		{"/review/review.css", ".transcript"},
		{"/campaigns/", "<title>Hotline campaigns</title>"},
		{"/campaigns/campaigns.js", "window.hotlineCampaigns"},
		{"/campaigns/campaigns.css", ".state-running"},
		{"/supervisor/", `href="../campaigns/"`},
	} {
		resp, err := http.Get(hs.URL + p.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), p.want) {
			t.Errorf("%s: %d, want %q in the body", p.path, resp.StatusCode, p.want)
		}
	}
}
