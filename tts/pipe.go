package tts

import (
	"context"
	"io"
	"sync"
)

// pipeStream is a Stream fed by a producer goroutine through a bounded
// channel, so the producer (a download being decoded) runs ahead of the
// reader by at most the channel's capacity. A Read given up by its ctx
// leaves the stream intact; Close stops the producer and waits for it.
type pipeStream struct {
	ch     chan []int16 // closed by the producer when it ends
	err    error        // why it ended (io.EOF at the end); set before ch closes
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	closed bool
}

// pipeChunks bounds how far a producer runs ahead of its reader.
const pipeChunks = 64

// newPipe starts produce on its own goroutine. produce sends chunks with
// send (which fails once the stream is closed) and returns why it stopped:
// nil for the end of the audio.
func newPipe(ctx context.Context, cancel context.CancelFunc, produce func(send func([]int16) bool) error) *pipeStream {
	p := &pipeStream{ch: make(chan []int16, pipeChunks), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		err := produce(func(chunk []int16) bool {
			if len(chunk) == 0 {
				return ctx.Err() == nil
			}
			select {
			case p.ch <- chunk:
				return true
			case <-ctx.Done():
				return false
			}
		})
		if err == nil {
			err = io.EOF
		}
		p.err = err
		close(p.ch)
	}()
	return p
}

func (p *pipeStream) Read(ctx context.Context) ([]int16, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	select {
	case chunk, ok := <-p.ch:
		if !ok {
			return nil, p.err
		}
		return chunk, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeStream) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	<-p.done
	return nil
}
