// Package web holds the pages Hotline serves to browsers: the caller's
// "Call us" page, the agent and supervisor desktops, and the supervisors'
// review of Hotline's answers. They are plain HTML, CSS and JavaScript
// with no build step, embedded in the binary.
//
// Layout: static/caller/ is the caller page (served beside the WebRTC
// signaling), static/agent/, static/supervisor/ and static/review/ the
// desktops (served by the operator's API, whose data they show),
// static/shared/ the code the pages share: the signaling client, and the
// desktops' API client, live event stream and look. A new page is a new folder.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Static is the pages' files, rooted so that "caller/index.html" is the
// caller page.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return sub
}

// Handler serves Static; mount it at "/" (the caller page is then
// /caller/) or under a prefix with http.StripPrefix.
func Handler() http.Handler {
	return http.FileServerFS(Static())
}
