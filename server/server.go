// Package server assembles a Hotline node from its configuration: the SIP
// transport, the media plane and the call flow, with one owner for all of
// their goroutines.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/tts"
)

// Server is one Hotline node.
type Server struct {
	cfg  config.Config
	log  *slog.Logger
	menu *ivr.Menu
	// conv runs calls through the dialog manager; nil with dialog.brain
	// menu.
	conv    *ivr.Conversation
	sip     *sip.Server
	engines []io.Closer // speech engines, closed after the last call
}

// New loads the prompts and speech engines and builds the node; nothing
// listens until Start.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	prompts, err := ivr.LoadPrompts(cfg.IVR.PromptsDir, 8000)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	eng, err := s.openEngines()
	if err != nil {
		s.closeEngines()
		return nil, err
	}
	if s.menu, err = ivr.New(cfg.IVR, prompts, eng, log); err != nil {
		s.closeEngines()
		return nil, err
	}
	if cfg.Dialog.Brain != dialog.BrainMenu {
		if s.conv, err = newConversation(cfg, s.menu, log); err != nil {
			s.closeEngines()
			return nil, err
		}
	}
	if s.sip, err = sip.NewServer(cfg.SIP, s.handleCall, log); err != nil {
		s.closeEngines()
		return nil, err
	}
	return s, nil
}

// openEngines builds the configured recognizer and synthesizer. A build
// without cgo has no embedded engines: Hotline then runs without them and
// says so, rather than refusing to answer calls.
func (s *Server) openEngines() (ivr.Engines, error) {
	var eng ivr.Engines
	if s.cfg.IVR.Speech {
		rec, err := asr.New(s.cfg.ASR, s.log)
		switch {
		case errors.Is(err, asr.ErrEmbeddedUnavailable):
			s.log.Warn("speech recognition off", "err", err)
		case err != nil:
			return eng, err
		default:
			eng.ASR = rec
			s.keepCloser(rec)
		}
	}
	syn, err := tts.New(s.cfg.TTS, s.log)
	switch {
	case errors.Is(err, tts.ErrEmbeddedUnavailable):
		s.log.Warn("speech synthesis off", "err", err)
	case err != nil:
		return eng, err
	default:
		eng.TTS = syn
		s.keepCloser(syn)
	}
	return eng, nil
}

func (s *Server) keepCloser(v any) {
	if c, ok := v.(io.Closer); ok {
		s.engines = append(s.engines, c)
	}
}

func (s *Server) closeEngines() {
	for _, c := range s.engines {
		if err := c.Close(); err != nil {
			s.log.Warn("closing a speech engine", "err", err)
		}
	}
	s.engines = nil
}

// Start binds every listener and returns once calls can arrive.
func (s *Server) Start(ctx context.Context) error { return s.sip.Start(ctx) }

// SIP is the node's SIP transport, for reading back bound addresses.
func (s *Server) SIP() *sip.Server { return s.sip }

// Shutdown refuses new calls, lets calls in progress drain, ends the rest,
// and then closes the speech engines.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.sip.Shutdown(ctx)
	s.closeEngines()
	return err
}

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
	tr, err := newTranscript(base + ".jsonl")
	if err != nil {
		log.Error("transcript not started", "err", err)
	} else {
		log.Info("transcript", "path", tr.path)
		defer tr.close(log)
	}
	emotion := prosody.NewTracker(s.cfg.Emotion)
	c := ivr.Call{Leg: call.Leg, Log: log, MessagePath: base + "-message.wav", OnTurn: tr.add, Emotion: emotion,
		From: call.From.User}
	if s.conv != nil {
		err = s.conv.Serve(ctx, c)
	} else {
		err = s.menu.Serve(ctx, c)
	}
	if err != nil {
		log.Error("call flow failed", "err", err)
	}
	logEmotion(log, emotion)
}

// logEmotion sums up the caller's emotion over the call; the transcript
// holds each turn's cue.
func logEmotion(log *slog.Logger, t *prosody.Tracker) {
	cues := t.Cues()
	if len(cues) == 0 {
		return
	}
	labels := make([]string, len(cues))
	flagged := 0
	for i, c := range cues {
		labels[i] = string(c.Label)
		if c.Label.Flagged() {
			flagged++
		}
	}
	last := cues[len(cues)-1]
	log.Info("caller emotion over the call", "turns", len(cues), "flagged", flagged,
		"labels", strings.Join(labels, " "), "last", last.Label, "trend", last.Trend)
}

// transcript is a call's record of turns, one JSON object a line, written
// as each turn ends so a crash loses at most the turn in progress.
type transcript struct {
	path string
	mu   sync.Mutex
	f    *os.File
	enc  *json.Encoder
	err  error
}

func newTranscript(path string) (*transcript, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &transcript{path: path, f: f, enc: json.NewEncoder(f)}, nil
}

// add writes t; a nil transcript (one that could not be opened) keeps
// nothing.
func (tr *transcript) add(t ivr.Turn) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.err == nil {
		tr.err = tr.enc.Encode(turnLine{
			AtMS: t.At.Milliseconds(), Speaker: t.Speaker, Text: t.Text, Prompt: t.Prompt, Key: t.Key,
			DurationMS: t.Duration.Milliseconds(), LatencyMS: t.Latency.Milliseconds(),
			Provider: t.Provider, Confidence: t.Confidence, Interrupted: t.Interrupted,
			Emotion: emotionPoint(t.Emotion),
		})
	}
}

// turnLine is a turn as the transcript file spells it.
type turnLine struct {
	AtMS        int64   `json:"at_ms"`
	Speaker     string  `json:"speaker"`
	Text        string  `json:"text"`
	Prompt      string  `json:"prompt,omitempty"`
	Key         string  `json:"key,omitempty"`
	DurationMS  int64   `json:"duration_ms"`
	LatencyMS   int64   `json:"latency_ms,omitempty"`
	Provider    string  `json:"provider,omitempty"`
	Confidence  float64 `json:"confidence,omitempty"`
	Interrupted bool    `json:"interrupted,omitempty"`
	// Emotion is the caller's emotion cue for the turn: the call's
	// emotion timeline, one point a spoken turn.
	Emotion *prosody.Point `json:"emotion,omitempty"`
}

func emotionPoint(c *prosody.Cue) *prosody.Point {
	if c == nil {
		return nil
	}
	p := c.Point()
	return &p
}

func (tr *transcript) close(log *slog.Logger) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err := errors.Join(tr.err, tr.f.Close()); err != nil {
		log.Warn("transcript incomplete", "path", tr.path, "err", err)
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
