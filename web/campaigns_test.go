package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCampaignsPageIsServed(t *testing.T) {
	hs := httptest.NewServer(Handler())
	defer hs.Close()
	for path, want := range map[string]string{
		"/campaigns/":              "<title>Hotline campaigns</title>",
		"/campaigns/campaigns.js":  "window.hotlineCampaigns",
		"/campaigns/campaigns.css": ".state-running",
		"/supervisor/":             `href="../campaigns/"`,
	} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in the body", path, resp.StatusCode, want)
		}
	}
}
