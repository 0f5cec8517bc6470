package doctor

import (
	"context"
	"fmt"
	"sync"
)

// Member is one account and region of an organization to check.
type Member struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

// Line is a member's verdict: its worst finding, and every finding for
// --format json.
type Line struct {
	Member
	Status   Status    `json:"status"`
	Message  string    `json:"message"`
	Findings []Finding `json:"findings,omitempty"`
}

// ClientsFor returns the clients that read one member, typically through
// a read-only role assumed in its account.
type ClientsFor func(ctx context.Context, m Member) (Clients, error)

// orgParallel bounds the members checked at once: each check is a dozen
// read calls, and AWS throttles the organization account's STS calls.
const orgParallel = 4

// RunOrg checks every member with cfg and returns one line per member, in
// the order given. A member whose clients cannot be had (the role cannot
// be assumed) fails: its guard cannot be vouched for.
func RunOrg(ctx context.Context, members []Member, clientsFor ClientsFor, cfg Config) []Line {
	out := make([]Line, len(members))
	sem := make(chan struct{}, orgParallel)
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := clientsFor(ctx, m)
			if err != nil {
				out[i] = Line{Member: m, Status: Fail, Message: fmt.Sprintf("cannot read account %s in %s: %v", m.Account, m.Region, err)}
				return
			}
			out[i] = summarize(m, Run(ctx, c, cfg))
		}()
	}
	wg.Wait()
	return out
}

// summarize folds a member's findings into one line: the worst finding's
// check and message, and how many others are not ok.
func summarize(m Member, findings []Finding) Line {
	rank := map[Status]int{OK: 0, Warn: 1, Fail: 2}
	l := Line{Member: m, Status: OK, Findings: findings}
	var worst *Finding
	bad := 0
	for i, f := range findings {
		if f.Status != OK {
			bad++
		}
		if worst == nil || rank[f.Status] > rank[worst.Status] {
			worst = &findings[i]
		}
	}
	switch {
	case worst == nil:
		l.Status, l.Message = Fail, "no findings"
	case worst.Status == OK:
		l.Message = fmt.Sprintf("%d checks ok; %s", len(findings), findings[0].Message)
	default:
		l.Status, l.Message = worst.Status, worst.Check+": "+worst.Message
		if bad > 1 {
			l.Message += fmt.Sprintf(" (and %d more not ok)", bad-1)
		}
	}
	return l
}
