package audiotest

import "testing"

func TestToneShareFindsTheTone(t *testing.T) {
	tone := Tone(8000, 1000, 0.5, 1600)
	if s := ToneShare(tone, 8000, 1000); s < 0.95 {
		t.Errorf("share at 1000 Hz = %.3f, want ≈1", s)
	}
	if s := ToneShare(tone, 8000, 440); s > 0.01 {
		t.Errorf("share at 440 Hz = %.3f, want ≈0", s)
	}
}

func TestBestCorrelationFindsTheLag(t *testing.T) {
	a := Tone(8000, 313, 0.5, 4000)
	for i := range a {
		a[i] += int16((i * 7919) % 2001) // aperiodic, so only one lag fits
	}
	b := a[120:2120]
	c, lag := BestCorrelation(a, b, 200)
	if c < 0.999 || lag != 120 {
		t.Errorf("corr %.4f at lag %d, want ≈1 at 120", c, lag)
	}
}
