package central

import (
	"testing"

	"github.com/s3xguard/s3xguard/lambda/handler"
)

// The names the central rules match are the ones the function puts.
func TestNamesMatchTheEmitter(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Source, handler.BusSource}, {AlertDetailType, handler.DetailTypeAlert}, {ReleasedDetailType, handler.DetailTypeReleased},
	} {
		if c.got != c.want {
			t.Errorf("got %q; want %q (lambda/handler/bus.go)", c.got, c.want)
		}
	}
}
