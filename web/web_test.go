package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCallerPageIsServed(t *testing.T) {
	hs := httptest.NewServer(Handler())
	defer hs.Close()
	for path, want := range map[string]string{
		"/caller/":             "<title>Call us</title>",
		"/caller/caller.js":    "setCodecPreferences",
		"/caller/caller.css":   ".meter",
		"/shared/signaling.js": "class HotlineSignaling",
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
