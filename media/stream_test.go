package media

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// clockPort records when each frame went out; stall makes one Send block.
type clockPort struct {
	sends   []time.Time
	stallAt int
	stall   time.Duration
}

func (p *clockPort) Receive(dst []int16) {}

func (p *clockPort) Send(frame []int16) error {
	p.sends = append(p.sends, time.Now())
	if len(p.sends) == p.stallAt {
		time.Sleep(p.stall)
	}
	return nil
}

func runClock(p *clockPort, d time.Duration) StreamStats {
	s := NewStream(8000, p)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s.Run(ctx)
	return s.Stats()
}

func TestStreamClockDoesNotDriftOverAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &clockPort{}
		start := time.Now()
		st := runClock(p, time.Hour+time.Millisecond)
		if st.Ticks != 180000 || len(p.sends) != 180000 {
			t.Fatalf("%d ticks in an hour, want 180000", st.Ticks)
		}
		if last := p.sends[len(p.sends)-1].Sub(start); last != time.Hour {
			t.Fatalf("last frame at %v, want exactly 1h", last)
		}
		if st.Late != 0 || st.Skipped != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestStreamSkipsAheadAfterStallInsteadOfBursting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &clockPort{stallAt: 50, stall: 300 * time.Millisecond}
		st := runClock(p, 3*time.Second)
		if st.Skipped < 10 {
			t.Fatalf("skipped %d slots after a 300 ms stall", st.Skipped)
		}
		for i := 51; i < len(p.sends); i++ {
			if gap := p.sends[i].Sub(p.sends[i-1]); gap < FrameDuration {
				t.Fatalf("frames %d and %d went out %v apart: a burst", i-1, i, gap)
			}
		}
		// The clock stays on its original 20 ms grid.
		start := p.sends[0].Add(-FrameDuration)
		for _, at := range p.sends {
			if at.Sub(start)%FrameDuration != 0 {
				t.Fatalf("frame at %v is off the grid", at.Sub(start))
			}
		}
	})
}

func TestStreamShortStallCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A 50 ms hiccup is within maxBehind: the missed frames go out
		// late rather than being skipped, so no audio is lost.
		p := &clockPort{stallAt: 10, stall: 50 * time.Millisecond}
		st := runClock(p, time.Second+time.Millisecond)
		if st.Skipped != 0 || st.Ticks != 50 {
			t.Fatalf("stats %+v, want 50 ticks and none skipped", st)
		}
		if st.Late == 0 {
			t.Fatal("frames sent after the hiccup were not counted late")
		}
	})
}
