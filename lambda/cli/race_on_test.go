//go:build race

package cli

// raceEnabled: the race detector is on. It makes sync.Pool drop what it
// holds at random, so peak-heap comparisons measure the detector.
const raceEnabled = true
