package handler

import (
	"context"
	"time"
)

// Time discipline inside one invocation (README, "Time discipline").
const (
	// CleanupTimeout bounds the bookkeeping after the work: releasing a
	// claim, marking an alert sent. It runs under context.WithoutCancel, so
	// an expired work context cannot skip it.
	CleanupTimeout = 2 * time.Second
	// noDeadlineLease is the claim lease when the context has no deadline
	// (tests, tools); Lambda always sets one.
	noDeadlineLease = 30 * time.Second
)

// reserveFor is the time kept back before the function's deadline for
// cleanup and the answer: a sixth of the time left at the start of the
// invocation, between 1 s and 10 s (10 s of the deployed 60 s timeout).
func reserveFor(left time.Duration) time.Duration {
	return min(max(left/6, time.Second), 10*time.Second)
}

// budget is one invocation's time: work must end by work; the function's
// own deadline is deadline (zero when the context has none).
type budget struct {
	deadline, work time.Time
	reserve        time.Duration
}

// newBudget derives the work context, which ends the reserve before the
// function's deadline.
func newBudget(ctx context.Context) (context.Context, context.CancelFunc, budget) {
	d, ok := ctx.Deadline()
	if !ok {
		c, cancel := context.WithCancel(ctx)
		return c, cancel, budget{}
	}
	b := budget{deadline: d, reserve: reserveFor(time.Until(d))}
	b.work = d.Add(-b.reserve)
	c, cancel := context.WithDeadline(ctx, b.work)
	return c, cancel, b
}

// left is the work time left; a budget without deadline never runs out.
func (b budget) left() time.Duration {
	if b.work.IsZero() {
		return time.Hour
	}
	return time.Until(b.work)
}

// lease is how long a claim taken now may hold: until the function's
// deadline, when a holder that is still running is stopped by Lambda. It
// is shorter than the function's timeout, so the retry of a timed-out or
// crashed attempt finds it expired.
func (b budget) lease() time.Duration {
	if b.deadline.IsZero() {
		return noDeadlineLease
	}
	return time.Until(b.deadline)
}

// cleanup is a context for bookkeeping that must run even when ctx has
// ended: it keeps ctx's values, not its cancellation.
func cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
}
