// Package server assembles a Hotline node from its configuration: the SIP
// transport, the media plane and the call flow, with one owner for all of
// their goroutines.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/sip"
)

// Server is one Hotline node.
type Server struct {
	cfg  config.Config
	log  *slog.Logger
	menu *ivr.Menu
	sip  *sip.Server
}

// New loads the prompts and builds the node; nothing listens until Start.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	prompts, err := ivr.LoadPrompts(cfg.IVR.PromptsDir, 8000)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, menu: ivr.New(cfg.IVR, prompts)}
	s.sip, err = sip.NewServer(cfg.SIP, s.handleCall, log)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Start binds every listener and returns once calls can arrive.
func (s *Server) Start(ctx context.Context) error { return s.sip.Start(ctx) }

// SIP is the node's SIP transport, for reading back bound addresses.
func (s *Server) SIP() *sip.Server { return s.sip }

// Shutdown refuses new calls, lets calls in progress drain, and ends the rest.
func (s *Server) Shutdown(ctx context.Context) error { return s.sip.Shutdown(ctx) }

func (s *Server) handleCall(ctx context.Context, call *sip.Call) {
	log := call.Log
	base := recordingBase(s.cfg.Recording.Dir, time.Now(), call.Leg.ID())
	if s.cfg.Recording.Calls {
		rec, err := media.RecordLeg(ctx, call.Leg, base+".wav")
		if err != nil {
			log.Error("call recording not started", "err", err)
		} else {
			log.Info("recording call", "path", rec.Path())
			defer func() {
				if err := rec.Stop(); err != nil {
					log.Warn("call recording incomplete", "err", err)
				}
			}()
		}
	}
	err := s.menu.Serve(ctx, ivr.Call{Leg: call.Leg, Log: log, MessagePath: base + "-message.wav"})
	if err != nil {
		log.Error("call flow failed", "err", err)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// recordingBase names a call's files by date and Call-ID; the Call-ID is the
// far end's text, so anything that could leave the folder is replaced.
func recordingBase(dir string, t time.Time, callID string) string {
	id := unsafeName.ReplaceAllString(callID, "_")
	if len(id) > 64 {
		id = id[:64]
	}
	day := t.UTC().Format("2006-01-02")
	return filepath.Join(dir, day, fmt.Sprintf("%s-%s", t.UTC().Format("150405"), id))
}
