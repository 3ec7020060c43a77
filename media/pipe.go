package media

import "context"

// PipeLeg is an in-memory Leg: what one end writes, the other hears, on the
// same 20 ms clocks as a network leg. Tests and local bridges use it.
type PipeLeg struct {
	*Stream
	id   string
	port *pipePort
	peer *PipeLeg
}

// NewPipe returns two connected legs at rate whose clocks run until ctx is
// done or either end hangs up, which ends both.
func NewPipe(ctx context.Context, rate int) (a, b *PipeLeg) {
	pa, pb := &pipePort{q: make(chan []int16, 50)}, &pipePort{q: make(chan []int16, 50)}
	pa.peer, pb.peer = pb, pa
	a = &PipeLeg{Stream: NewStream(rate, pa), id: "pipe-a", port: pa}
	b = &PipeLeg{Stream: NewStream(rate, pb), id: "pipe-b", port: pb}
	a.peer, b.peer = b, a
	go a.Run(ctx)
	go b.Run(ctx)
	go func() {
		select {
		case <-ctx.Done():
		case <-a.Done():
		case <-b.Done():
		}
		a.End()
		b.End()
	}()
	return a, b
}

// ID names the end of the pipe.
func (l *PipeLeg) ID() string { return l.id }

// Hangup ends both ends of the pipe.
func (l *PipeLeg) Hangup(context.Context) error {
	l.End()
	l.peer.End()
	return nil
}

// SendDigit delivers d to the other end as if keyed on a phone.
func (l *PipeLeg) SendDigit(d Digit) { l.peer.PushDigit(d) }

type pipePort struct {
	q    chan []int16
	peer *pipePort
}

func (p *pipePort) Receive(dst []int16) {
	select {
	case f := <-p.q:
		copy(dst, f)
	default:
		clear(dst)
	}
}

func (p *pipePort) Send(frame []int16) error {
	cp := append([]int16(nil), frame...)
	select {
	case p.peer.q <- cp:
	default:
		// The peer's clock has stalled; drop rather than block ours.
	}
	return nil
}
