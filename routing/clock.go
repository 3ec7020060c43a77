package routing

import "time"

// Clock is the distributor's time: ring timeouts, wrap-up, advisor and queue
// waits all run on it, so tests can drive them without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed, unless the timer is stopped
	// first, from a goroutine that holds none of the distributor's locks.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
