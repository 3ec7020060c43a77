// Package server assembles a Hotline node from its configuration: the SIP
// transport, the media plane and the call flow, with one owner for all of
// their goroutines.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/dialog/rules"
	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/metrics"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
	"github.com/hotline-cc/hotline/tts"
	"github.com/hotline-cc/hotline/webrtc"
)

// Server is one Hotline node.
type Server struct {
	cfg  config.Config
	log  *slog.Logger
	menu *ivr.Menu
	// conv runs calls through the dialog manager; nil with dialog.brain
	// menu.
	conv *ivr.Conversation
	sip  *sip.Server
	// browser takes calls from the caller page; nil when off.
	browser *webrtc.Server
	store   *store.Store
	metrics *metrics.Metrics
	// directory is the customer directory: who a caller is, by number.
	directory *routing.Directory
	// desk distributes the calls transferred to a queue among the agents;
	// agents is it for the call flow, nil when no agents are configured
	// (a transfer then ends in a message).
	desk   *agentDesk
	agents ivr.Agents
	// live are the calls in progress, for the desktops.
	live liveCalls
	// dialer places the outbound campaigns' calls; nil without
	// campaigns.gateway.
	dialer *campaign.Dialer
	// node names this server in the call records.
	node    string
	engines []io.Closer // speech engines, closed after the last call

	// The node's chores until Shutdown: the retention purge, following the
	// knowledge folder's changes, and the heartbeat in the shared store.
	stopChores context.CancelFunc
	chores     sync.WaitGroup
	// knowledge is what the dialog answers from: the knowledge folder, or
	// the sample built into the binary; nil with the menu brain.
	knowledge *knowledge.Live
	// intents are the rule flow's, taught phrases by the review; nil with
	// dialog.brain menu.
	intents *intentBook

	// events carries what happens on calls to the API's live stream.
	events *events.Bus
	// The operator's API: its servers, the context of their requests
	// (cancelled to end the live streams), and whether the node drains.
	https       []*http.Server
	httpCtx     context.Context
	stopStreams context.CancelFunc
	serving     sync.WaitGroup
	draining    atomic.Bool
}

// New loads the prompts and speech engines and builds the node; nothing
// listens until Start.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	prompts, err := ivr.LoadPrompts(cfg.IVR.PromptsDir, 8000)
	if err != nil {
		return nil, err
	}
	if prompts.HoldMusic, err = ivr.LoadHoldMusic(cfg.IVR.HoldMusic, 8000); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, metrics: metrics.New(), events: events.NewBus(0), node: cfg.Node}
	if s.directory, err = loadDirectory(cfg.Routing.VIP.Directory, log); err != nil {
		return nil, err
	}
	if s.node == "" {
		if s.node, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("node name: %w", err)
		}
	}
	if err := s.openStore(); err != nil {
		return nil, err
	}
	eng, err := s.openEngines()
	if err != nil {
		s.closeAll()
		return nil, err
	}
	if s.menu, err = ivr.New(cfg.IVR, prompts, eng, log); err != nil {
		s.closeAll()
		return nil, err
	}
	if cfg.Dialog.Brain != dialog.BrainMenu {
		var rb *rules.Brain
		if s.knowledge, err = loadKnowledge(cfg.Dialog); err != nil {
			s.closeAll()
			return nil, err
		}
		if s.conv, rb, err = newConversation(cfg, s.menu, s.knowledge, s.metrics, log); err != nil {
			s.closeAll()
			return nil, err
		}
		if s.intents, err = s.loadExamples(rb); err != nil {
			s.closeAll()
			return nil, err
		}
	}
	if s.sip, err = sip.NewServer(cfg.SIP, s.handleCall, log); err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.newDialer(eng.TTS); err != nil {
		s.closeAll()
		return nil, err
	}
	if s.desk, err = newAgentDesk(cfg.Routing, s.directory, s.sip, s.metrics, log); err != nil {
		s.closeAll()
		return nil, err
	}
	if cfg.Store.Driver == store.Postgres && cfg.Store.Heartbeat > 0 {
		s.desk.shared = newSharedAgents(s.store, s.node, log.With("component", "routing"))
		switch key := os.Getenv(cfg.Store.NodeSecretEnv); {
		case len(key) >= minNodeSecret:
			s.desk.nodeKey = []byte(key)
		case key != "":
			s.closeAll()
			return nil, fmt.Errorf("cluster: the secret in %s (store.node_secret_env) has %d characters, want at least %d", cfg.Store.NodeSecretEnv, len(key), minNodeSecret)
		default:
			log.Warn("cluster: no shared secret (store.node_secret_env): another node's INVITE for a browser agent is admitted by its source address alone", "env", cfg.Store.NodeSecretEnv)
		}
	}
	s.sip.OnRegistration(s.desk.registered)
	if len(cfg.Routing.Agents) > 0 {
		s.agents = s.desk
	}
	s.sip.SetMetrics(s.metrics)
	if s.browser, err = s.newBrowser(cfg, log); err != nil {
		s.closeAll()
		return nil, err
	}
	return s, nil
}

// openStore opens the call records and closes the calls a previous run
// of this node left open: it was killed before they ended.
func (s *Server) openStore() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, s.cfg.Store)
	if err != nil {
		return err
	}
	closed, err := st.CloseInterrupted(ctx, s.node)
	if err != nil {
		st.Close()
		return err
	}
	if len(closed) > 0 {
		s.log.Warn("calls interrupted by the last stop closed", "node", s.node, "calls", closed)
	}
	s.log.Info("call records", "driver", st.Driver(), "node", s.node)
	s.store = st
	return nil
}

// loadDirectory reads the customer directory, if one is configured. Rows
// it cannot read are logged and left out; a file it cannot open stops
// start-up.
func loadDirectory(path string, log *slog.Logger) (*routing.Directory, error) {
	if path == "" {
		return nil, nil
	}
	d, err := routing.LoadDirectory(path)
	if d == nil {
		return nil, err
	}
	if err != nil {
		log.Warn("customer directory: rows left out", "err", err)
	}
	log.Info("customer directory", "path", path, "customers", d.Len())
	return d, nil
}

// profile is the caller's entry in the customer directory, or just their
// number.
func (s *Server) profile(number string) dialog.Profile {
	p := dialog.Profile{Number: number}
	if s.directory != nil {
		if c, ok := s.directory.Lookup(number); ok {
			p.Name, p.Tier, p.Advisor = c.Name, c.Tier, c.Advisor
		}
	}
	return p
}

// Metrics are the node's Prometheus metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Store is the node's call records.
func (s *Server) Store() *store.Store { return s.store }

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

// closeAll closes the speech engines and then the call records, once no
// call uses them.
func (s *Server) closeAll() {
	for _, c := range s.engines {
		if err := c.Close(); err != nil {
			s.log.Warn("closing a speech engine", "err", err)
		}
	}
	s.engines = nil
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Warn("closing the call records", "err", err)
		}
		s.store = nil
	}
}

// Start binds every listener and returns once calls can arrive. The
// retention purge of the call records runs until Shutdown.
func (s *Server) Start(ctx context.Context) error {
	s.desk.start(ctx)
	if err := s.sip.Start(ctx); err != nil {
		s.desk.close()
		return err
	}
	if s.desk.shared != nil {
		s.desk.shared.sip = s.sip.Addr("udp")
	}
	s.httpCtx, s.stopStreams = context.WithCancel(ctx)
	if err := s.startHTTP(); err != nil {
		s.sip.Shutdown(context.Background())
		s.stopHTTP(context.Background())
		s.desk.close()
		return err
	}
	ctx, s.stopChores = context.WithCancel(ctx)
	if s.dialer != nil {
		if err := s.dialer.Restore(ctx); err != nil {
			s.log.Error("campaigns not resumed", "err", err)
		}
	}
	s.chores.Go(func() {
		if err := s.store.RunPurge(ctx, purgeEvery, s.log); err != nil {
			s.log.Error("retention purge stopped", "err", err)
		}
	})
	if s.knowledge != nil && s.knowledge.Dir() != "" {
		s.chores.Go(func() { s.knowledge.Watch(ctx, knowledgeEvery, s.log) })
	}
	if s.cfg.Store.Heartbeat > 0 {
		started := time.Now()
		s.chores.Go(func() { s.keepHeartbeat(ctx, started) })
	}
	if s.desk.shared != nil {
		s.chores.Go(func() { s.desk.shared.listen(ctx, s.cfg.Store.Heartbeat) })
	}
	return nil
}

// purgeEvery is how often records past their retention are purged, and
// knowledgeEvery how often the knowledge folder is looked at for changes.
const (
	purgeEvery     = time.Hour
	knowledgeEvery = 5 * time.Second
)

// SIP is the node's SIP transport, for reading back bound addresses.
func (s *Server) SIP() *sip.Server { return s.sip }

// Shutdown refuses new calls, lets calls in progress drain, ends the rest,
// and then closes the call distributor and the speech engines.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	if s.dialer != nil {
		// No new campaign calls; those in progress drain with the rest.
		s.dialer.Drain()
	}
	err := s.sip.Shutdown(ctx)
	if s.dialer != nil {
		s.dialer.Close()
	}
	if s.browser != nil {
		err = errors.Join(err, s.browser.Shutdown(ctx))
	}
	s.stopHTTP(ctx)
	s.desk.close()
	if s.stopChores != nil {
		s.stopChores()
		s.chores.Wait()
		s.leaveCluster()
	}
	s.closeAll()
	return err
}

func (s *Server) handleCall(ctx context.Context, call *sip.Call) {
	s.serveCall(ctx, call.Leg, call.Log, callInfo{id: call.Leg.ID(), from: call.From.User, to: call.To.User,
		channel: store.ChannelTrunk, trunk: call.Trunk, at: time.Now()}, s.transferOut(call, call.Log))
}

// handleBrowserCall serves a call from the caller page like a phone call.
func (s *Server) handleBrowserCall(ctx context.Context, call *webrtc.Call) {
	s.serveCall(ctx, call.Leg, call.Log, callInfo{id: call.ID, from: call.RemoteAddr.Addr().String(),
		channel: store.ChannelBrowser, at: time.Now()}, s.transferOut(nil, call.Log))
	if err := call.Leg.Hangup(ctx); err != nil {
		call.Log.Debug("browser call already ended", "err", err)
	}
}

// serveCall runs one answered call, whatever brought it: its recording,
// its record, and the conversation; out hands it to destinations outside
// Hotline.
func (s *Server) serveCall(ctx context.Context, leg media.Leg, log *slog.Logger, info callInfo,
	out func(string) func(context.Context, media.Leg) error) {
	base := recordingBase(s.cfg.Recording.Dir, info.at, info.id)
	caller := s.profile(info.from)
	conv := s.conv
	if info.placed != nil {
		caller, conv = info.placed.callee, info.placed.conv
	}
	rec := s.openRecord(ctx, log, info, caller, base)
	if s.cfg.Recording.Calls {
		wav, err := media.RecordLeg(ctx, leg, base+".wav")
		if err != nil {
			log.Error("call recording not started", "err", err)
		} else {
			log.Info("recording call", "path", wav.Path())
			rec.recording(wav.Path(), store.RecordingCall, info.at)
			defer func() {
				if err := wav.Stop(); err != nil {
					log.Warn("call recording incomplete", "err", err)
				}
			}()
		}
	}
	live, gone := s.live.add(info.id, rec)
	defer gone()
	emotion := prosody.NewTracker(s.cfg.Emotion)
	messagePath := base + "-message.wav"
	c := ivr.Call{Leg: leg, Log: log, MessagePath: messagePath, OnTurn: rec.turn, Emotion: emotion,
		Caller: caller, OnCrisis: rec.crisis, TransferOut: out, Transfers: live.transfer, Agents: s.agents, OnCallback: rec.callback}
	if p := info.placed; p != nil {
		c.Greeting = p.greeting
		c.OnTurn = func(t ivr.Turn) {
			rec.turn(t)
			p.tap(t)
		}
	}
	var err error
	if conv != nil {
		err = conv.Serve(ctx, c)
	} else {
		err = s.menu.Serve(ctx, c)
	}
	if err != nil {
		log.Error("call flow failed", "err", err)
	}
	logEmotion(log, emotion)
	rec.end(err, leg, messagePath)
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
