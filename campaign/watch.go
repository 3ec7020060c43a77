package campaign

import (
	"regexp"
	"strings"
	"sync"

	"github.com/hotline-cc/hotline/dialog"
)

// Watch follows an answered call's turns and tells its outcome: the
// callee opted out (strongest: they are never called again), was handed
// to a person, said yes to the greeting's question (booked), or just
// talked (answered). It is safe for concurrent use.
type Watch struct {
	mu          sync.Mutex
	replies     int
	optedOut    bool
	booked      bool
	transferred string
}

// optOut matches what a callee says to be left alone.
var optOut = regexp.MustCompile(`\b(stop calling|do not call|don'?t call|never call|remove me|take me off|unsubscribe|opt out|no more calls|not interested)\b`)

// OptOut reports whether text asks not to be called again.
func OptOut(text string) bool { return optOut.MatchString(strings.ToLower(text)) }

// Heard takes one of the callee's spoken turns.
func (w *Watch) Heard(text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.replies++
	if OptOut(text) {
		w.optedOut = true
		return
	}
	// Only the answer to the greeting's question books: a later yes
	// answers something else.
	if a, ok := dialog.YesNo(text); ok && a == "yes" && w.replies == 1 {
		w.booked = true
	}
}

// Transferred takes the hand-over of the call to a queue.
func (w *Watch) Transferred(queue string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.transferred = queue
}

// OptedOut reports whether the callee asked not to be called again.
func (w *Watch) OptedOut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.optedOut
}

// Outcome is the outcome of the call so far, and its detail (the queue of
// a transfer).
func (w *Watch) Outcome() (Outcome, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.optedOut:
		return OptedOut, ""
	case w.transferred != "":
		return Transferred, "queue " + w.transferred
	case w.booked:
		return Booked, ""
	}
	return Answered, ""
}
