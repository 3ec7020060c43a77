package tts

import (
	"context"
	"errors"
	"io"
	"sync"
)

// lookAhead is how many sentences Speak synthesizes beyond the one being
// read: enough to hide the synthesis of the next sentence behind the
// playback of this one, few enough that a barge-in wastes little work.
// (The producer holds the one synthesized sentence; the channel between
// them holds lookAhead-1 more.)
const lookAhead = 1

// Speak splits text into sentences and synthesizes them one after another:
// the first sentence's audio is readable while later ones are still being
// made. At most lookAhead sentences are synthesized ahead of the one being
// read; ctx or Close cancels the rest. An error from the synthesizer ends
// the stream with that error after the audio of the sentences before it.
func Speak(ctx context.Context, s Synthesizer, text string, rate int) Stream {
	sentences := SplitSentences(text)
	ch := make(chan string, len(sentences))
	for _, t := range sentences {
		ch <- t
	}
	close(ch)
	return SpeakEach(ctx, s, ch, rate)
}

// SpeakEach is Speak for a reply still being written: it synthesizes each
// sentence received from sentences, in order, as soon as it arrives, and
// the stream ends when sentences is closed. While the next sentence has not
// arrived, Read waits.
func SpeakEach(ctx context.Context, s Synthesizer, sentences <-chan string, rate int) Stream {
	ctx, cancel := context.WithCancel(ctx)
	sp := &speech{
		ctx:    ctx,
		cancel: cancel,
		next:   make(chan sentence, lookAhead-1),
		done:   make(chan struct{}),
	}
	go sp.produce(ctx, s, sentences, rate)
	return sp
}

type sentence struct {
	st  Stream
	err error
}

type speech struct {
	ctx    context.Context // Speak's, cancelled by Close
	cancel context.CancelFunc
	next   chan sentence // closed by produce when it returns
	done   chan struct{} // closed by produce when it returns

	mu     sync.Mutex // held by Read; Close waits for it
	cur    Stream
	err    error // sticky: the end of the stream
	closed sync.Once
}

func (sp *speech) produce(ctx context.Context, s Synthesizer, sentences <-chan string, rate int) {
	defer close(sp.done)
	defer close(sp.next)
	for {
		var text string
		select {
		case t, ok := <-sentences:
			if !ok {
				return
			}
			text = t
		case <-ctx.Done():
			return
		}
		st, err := s.Synthesize(ctx, text, rate)
		if err != nil && ctx.Err() != nil {
			return // cancelled: Read reports ctx's error
		}
		select {
		case sp.next <- sentence{st, err}:
		case <-ctx.Done():
			if st != nil {
				st.Close()
			}
			return
		}
		if err != nil {
			return
		}
	}
}

func (sp *speech) Read(ctx context.Context) ([]int16, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for sp.err == nil {
		if sp.cur == nil {
			select {
			case n, ok := <-sp.next:
				switch {
				case !ok:
					// The producer stopped: the end, or cancelled.
					sp.err = io.EOF
					if err := sp.ctx.Err(); err != nil {
						sp.err = err
					}
					sp.cancel()
				case n.err != nil:
					sp.err = n.err
				default:
					sp.cur = n.st
				}
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		chunk, err := sp.cur.Read(ctx)
		if errors.Is(err, io.EOF) {
			sp.cur.Close()
			sp.cur = nil
			if len(chunk) > 0 {
				return chunk, nil
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil { // the reader gave up; the stream goes on
				return chunk, err
			}
			sp.err = err
			sp.cur.Close()
			sp.cur = nil
		}
		if len(chunk) > 0 || err != nil {
			return chunk, err
		}
	}
	return nil, sp.err
}

// Close cancels the synthesis of the remaining sentences and waits for the
// producer to stop: at most the one synthesis call in progress, which for
// the embedded engine cannot be interrupted (a sentence takes tens of
// milliseconds).
func (sp *speech) Close() error {
	sp.closed.Do(func() {
		sp.cancel()
		sp.mu.Lock()
		defer sp.mu.Unlock()
		for n := range sp.next {
			if n.st != nil {
				n.st.Close()
			}
		}
		<-sp.done
		if sp.cur != nil {
			sp.cur.Close()
			sp.cur = nil
		}
		sp.err = ErrClosed
	})
	return nil
}
