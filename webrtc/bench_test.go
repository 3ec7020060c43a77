package webrtc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkConcurrentLegs holds N browser legs on loopback, each a pion
// client sending a tone that the server's handler echoes back, so audio
// flows both ways on every leg, and reports the process's CPU per leg
// (server and clients together: the clients are pion too, so the server's
// share is about half) and the signaling round trip: socket dialed, offer
// made and sent, answer received.
//
//	go test -run '^$' -bench ConcurrentLegs -benchtime 1x ./webrtc/
func BenchmarkConcurrentLegs(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				benchLegs(b, n, 5*time.Second)
			}
		})
	}
}

func benchLegs(b *testing.B, n int, hold time.Duration) {
	cfg := testConfig()
	cfg.MaxCalls = n
	s := NewServer(cfg, echo, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(s.Handler())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			b.Error(err)
		}
		hs.Close()
	}()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws/call"

	rtts := make([]time.Duration, n)
	clients := make([]*testClient, n)
	for i := range clients {
		start := time.Now()
		clients[i] = dialCall(b, url)
		clients[i].waitAnswer()
		rtts[i] = time.Since(start)
	}
	for _, c := range clients {
		c.waitConnected(10 * time.Second)
		c.sendTone(1000)
	}
	time.Sleep(time.Second) // past the set-up
	cpu0, wall0 := cpuTime(), time.Now()
	time.Sleep(hold)
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	for _, c := range clients {
		if len(c.heardSince(0)) < 8000 {
			b.Fatalf("a client heard %d samples: no echo", len(c.heardSince(0)))
		}
		c.close()
	}
	slices.Sort(rtts)
	perLeg := float64(cpu) / float64(wall) / float64(n) // cores per leg
	b.ReportMetric(perLeg*100, "%core/leg")
	b.ReportMetric(1/perLeg, "legs/core")
	b.ReportMetric(float64(rtts[n/2].Microseconds())/1000, "ms-offer-answer-p50")
	b.ReportMetric(float64(rtts[n*95/100].Microseconds())/1000, "ms-offer-answer-p95")
}

// echo sends the page what it hears, until the call ends.
func echo(ctx context.Context, c *Call) {
	for {
		f, err := c.Leg.ReadFrame(ctx)
		if err != nil || c.Leg.WriteFrame(ctx, f) != nil {
			return
		}
	}
}

// cpuTime is the CPU the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
