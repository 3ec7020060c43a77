package tts

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const threeSentences = "Thank you for calling Hotline. Your order left our warehouse this morning. It should arrive by Friday."

func TestSpeakFirstAudioBeforeLaterSentences(t *testing.T) {
	defer goleak.VerifyNone(t)
	sentences := SplitSentences(threeSentences)
	if len(sentences) != 3 {
		t.Fatalf("split into %q", sentences)
	}
	release := make(chan struct{})
	fs := &fakeSynth{gate: func(ctx context.Context, text string) error {
		if text != sentences[2] {
			return nil
		}
		select { // the third sentence waits until the test has heard the first
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	st := Speak(context.Background(), fs, threeSentences, 8000)
	defer st.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first, err := st.Read(ctx)
	if err != nil {
		t.Fatalf("first Read: %v", err)
	}
	if _, finished := fs.counts(); finished > 2 {
		t.Fatalf("%d sentences synthesized before the first chunk", finished)
	}
	if want := fakeAudio(sentences[0], 8000)[:len(first)]; !slices.Equal(first, want) {
		t.Fatal("first chunk is not the first sentence's audio")
	}
	close(release)

	rest, err := ReadAll(ctx, st)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	var want []int16
	for _, s := range sentences {
		want = append(want, fakeAudio(s, 8000)...)
	}
	if got := append(first, rest...); !slices.Equal(got, want) {
		t.Fatalf("got %d samples, want the %d of the three sentences in order", len(got), len(want))
	}
	if _, err := st.Read(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
}

func TestSpeakBoundedLookAheadAndClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	fs := &fakeSynth{}
	text := "This is sentence number one. This is sentence number two. This is sentence number three. " +
		"This is sentence number four. This is sentence number five."
	st := Speak(context.Background(), fs, text, 8000)
	// Nobody reads: the producer makes lookAhead sentences and waits.
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, fin := fs.counts(); fin >= lookAhead || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if started, _ := fs.counts(); started != lookAhead {
		t.Fatalf("%d sentences started without a reader, want %d", started, lookAhead)
	}
	// Reading the first sentence lets the producer make one more.
	if _, err := st.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if started, _ := fs.counts(); started != lookAhead+1 {
		t.Fatalf("%d sentences started while the first is read, want %d", started, lookAhead+1)
	}
	st.Close() // returns once the producer has stopped
	started, _ := fs.counts()
	time.Sleep(50 * time.Millisecond)
	if s, _ := fs.counts(); s != started {
		t.Fatalf("synthesis went on after Close: %d -> %d", started, s)
	}
}

func TestSpeakCloseWhileSynthesizing(t *testing.T) {
	defer goleak.VerifyNone(t)
	fs := &fakeSynth{delay: time.Hour} // only cancellation ends it
	st := Speak(context.Background(), fs, threeSentences, 8000)
	done := make(chan struct{})
	go func() {
		_, err := st.Read(context.Background())
		if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			t.Errorf("Read during Close: %v", err)
		}
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	t0 := time.Now()
	st.Close()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	<-done
}

func TestSpeakContextCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	fs := &fakeSynth{delay: 50 * time.Millisecond}
	st := Speak(ctx, fs, threeSentences, 8000)
	defer st.Close()
	if _, err := st.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	var err error
	for err == nil {
		_, err = st.Read(context.Background())
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v, want context.Canceled", err)
	}
}

func TestSpeakReadTimeoutKeepsStream(t *testing.T) {
	defer goleak.VerifyNone(t)
	fs := &fakeSynth{delay: 150 * time.Millisecond}
	st := Speak(context.Background(), fs, threeSentences, 8000)
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	_, err := st.Read(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("short Read: %v", err)
	}
	pcm, err := ReadAll(context.Background(), st)
	want := 0
	for _, s := range SplitSentences(threeSentences) {
		want += len(fakeAudio(s, 8000))
	}
	if err != nil || len(pcm) != want {
		t.Fatalf("after a timed-out Read: %d samples, %v; want %d", len(pcm), err, want)
	}
}

func TestSpeakErrorAfterAudio(t *testing.T) {
	defer goleak.VerifyNone(t)
	boom := errors.New("provider down")
	sentences := SplitSentences(threeSentences)
	fs := &fakeSynth{fail: func(text string) error {
		if text == sentences[1] {
			return boom
		}
		return nil
	}}
	st := Speak(context.Background(), fs, threeSentences, 8000)
	defer st.Close()
	pcm, err := ReadAll(context.Background(), st)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the provider's", err)
	}
	if len(pcm) != len(fakeAudio(sentences[0], 8000)) {
		t.Fatalf("%d samples before the error, want the first sentence's %d", len(pcm), len(fakeAudio(sentences[0], 8000)))
	}
	if _, fin := fs.counts(); fin != 1 {
		t.Errorf("%d sentences synthesized, want 1 (nothing after the error)", fin)
	}
}

func TestSpeakEmpty(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := Speak(context.Background(), &fakeSynth{}, "  ", 8000)
	defer st.Close()
	if _, err := st.Read(context.Background()); err != io.EOF {
		t.Fatalf("Read of nothing: %v, want io.EOF", err)
	}
}

// A reply still being written: the first sentence plays before the second
// exists, the stream waits for it, and ends when the writer closes.
func TestSpeakEachWaitsForTheWriter(t *testing.T) {
	defer goleak.VerifyNone(t)
	sentences := make(chan string)
	st := SpeakEach(context.Background(), &fakeSynth{}, sentences, 8000)
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	one, two := "Your card is blocked.", "A new one is on its way."
	sentences <- one
	want := fakeAudio(one, 8000)
	var first []int16
	for len(first) < len(want) {
		chunk, err := st.Read(ctx)
		if err != nil {
			t.Fatalf("first sentence: %v after %d samples", err, len(first))
		}
		first = append(first, chunk...)
	}
	if !slices.Equal(first, want) {
		t.Fatal("first sentence's audio differs")
	}
	sentences <- two
	close(sentences)
	rest, err := ReadAll(ctx, st)
	if err != nil || !slices.Equal(rest, fakeAudio(two, 8000)) {
		t.Fatalf("second sentence: %d samples, %v", len(rest), err)
	}
}
