package harness

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestMotoStartsAndStops(t *testing.T) {
	m := StartMoto(t)
	resp, err := http.Get(m.URL + "/moto-api/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m.Stop()
	if _, err := http.Get(m.URL + "/moto-api/"); err == nil {
		t.Fatal("moto still answers after Stop")
	}
}

func TestLambdaRunsHello(t *testing.T) {
	bin := Build(t, "./test/hello")
	l := StartLambda(t, bin, map[string]string{"AWS_REGION": "us-east-1"})
	for i := 0; i < 2; i++ { // cold, then warm
		r := l.MustInvoke(t, []byte(`{"x":1}`))
		if r.Err != "" || strings.TrimSpace(string(r.Body)) != `"hello"` {
			t.Fatalf("invoke %d: got %+v; want \"hello\"", i, r)
		}
	}
	if pid := l.BootstrapPID(); pid == 0 {
		t.Errorf("no bootstrap process found under the RIE; log:\n%s", l.Log())
	}
	l.Stop()
}

func TestLambdaReportsFunctionError(t *testing.T) {
	r := functionError([]byte(`{"errorMessage":"boom","errorType":"errorString"}`))
	if r != "errorString: boom" {
		t.Fatalf("got %q; want %q", r, "errorString: boom")
	}
	if r := functionError([]byte(`"hello"`)); r != "" {
		t.Fatalf("got %q; want none", r)
	}
}

// A port answered by a stranger is not ours: StartMoto waits until its own
// process holds the listening socket, so a port taken between FreePort and
// moto's bind cannot send the tests to another test's server.
func TestListensOn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if !listensOn(os.Getpid(), port) {
		t.Fatalf("listensOn(self, %d) = false; want true", port)
	}
	if listensOn(os.Getppid(), port) {
		t.Fatalf("listensOn(parent, %d) = true; want false", port)
	}
	if listensOn(os.Getpid(), FreePort(t)) {
		t.Fatal("listensOn(self, a free port) = true; want false")
	}
}
