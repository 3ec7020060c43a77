package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/web"
)

// errDraining is what /readyz says while the node stops taking calls.
var errDraining = errors.New("draining: not taking new calls")

// startHTTP serves the operator's API (and /metrics, on the API's address
// or its own) until stopHTTP.
func (s *Server) startHTTP() error {
	cfg := s.cfg.API
	cfg.RecordingsDir = s.cfg.Recording.Dir
	deps := api.Deps{Store: s.store, Events: s.events, Ready: s.ready, Agents: s.desk, Queues: s.desk,
		AgentControl: api.AgentControlFunc(s.desk.setState), Login: s.agentLogin, CallControl: s}
	if cfg.MetricsListen == "" {
		deps.Metrics = s.metrics.Handler()
	}
	if s.knowledge != nil {
		deps.Knowledge = s.knowledge
	}
	if s.intents != nil {
		deps.Intents = s.intents
	}
	deps.Campaigns = s.dialer
	h, err := api.New(cfg, deps, s.log)
	if err != nil {
		return err
	}
	if err := s.serveHTTP("api", cfg.Listen, s.withAgentPhones(h)); err != nil {
		return err
	}
	if s.browser != nil {
		mux := http.NewServeMux()
		mux.Handle("/ws/", s.browser.Handler())
		mux.Handle("/", web.Handler())
		mux.Handle("GET /{$}", http.RedirectHandler("/caller/", http.StatusFound))
		if err := s.serveHTTP("caller page", s.cfg.WebRTC.Listen, mux); err != nil {
			return err
		}
	}
	if cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		return s.serveHTTP("metrics", cfg.MetricsListen, mux)
	}
	return nil
}

// serveHTTP listens on addr and serves h in a goroutine the server owns.
func (s *Server) serveHTTP(name, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return s.httpCtx }}
	s.https = append(s.https, srv)
	s.log.Info(name+" listening", "addr", ln.Addr().String())
	s.serving.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error(name+" stopped", "err", err)
		}
	})
	return nil
}

// stopHTTP ends the live event streams and closes the listeners, letting
// requests in flight finish within ctx.
func (s *Server) stopHTTP(ctx context.Context) {
	if s.stopStreams != nil {
		s.stopStreams()
	}
	for _, srv := range s.https {
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Warn("http shutdown", "err", err)
		}
	}
	s.serving.Wait()
}

// ready is nil while the node takes calls.
func (s *Server) ready() error {
	if s.draining.Load() {
		return errDraining
	}
	return nil
}

// agentLogin checks an agent's desktop sign-in against the password of
// their phone (sip.agents), read from the environment. It takes as long
// for an unknown agent as for a wrong password.
func (s *Server) agentLogin(agent, password string) bool {
	want := sha256.Sum256([]byte("no such agent"))
	known := 0
	for _, a := range s.cfg.SIP.Agents {
		if a.User == agent {
			if pw := os.Getenv(a.PasswordEnv); pw != "" {
				want, known = sha256.Sum256([]byte(pw)), 1
			}
		}
	}
	got := sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(got[:], want[:])&known == 1
}
