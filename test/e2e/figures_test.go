package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/test/harness"
)

// TestFigures measures the figures the README reports, each beside its
// baseline or goal in the same run. It is a measurement, not a check: it
// runs only with S3XGUARD_FIGURES=1 (test/figures sets it).
func TestFigures(t *testing.T) {
	if os.Getenv("S3XGUARD_FIGURES") != "1" {
		t.Skip("set S3XGUARD_FIGURES=1 (or run test/figures) to measure")
	}
	out := &strings.Builder{}
	defer func() { fmt.Print(out.String()) }()
	fmt.Fprintf(out, "\n== s3xguard function figures (%s, moto and the RIE on loopback) ==\n", time.Now().UTC().Format("2006-01-02"))

	// Built as the stack builds it: the allowlist's digest linked in.
	fn, hello := harness.BuildWith(t, "./lambda", config.PinFlag(config.AllowlistDigest([]byte(allowlist)))), harness.Build(t, "./test/hello")
	size := func(p string) float64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return float64(fi.Size()) / (1 << 20)
	}
	fmt.Fprintf(out, "\nbootstrap size (GOOS=linux, -tags lambda.norpc, -trimpath):\n  s3xguard %.1f MiB   hello-world aws-lambda-go %.1f MiB\n", size(fn), size(hello))
	fnArm, helloArm := deployedBuild(t, "./lambda"), deployedBuild(t, "./test/hello")
	fmt.Fprintf(out, "bootstrap size as the stack deploys it (GOARCH=arm64, -ldflags \"-s -w\"; goal: at most 12 MiB):\n  s3xguard %.1f MiB   hello-world aws-lambda-go %.1f MiB\n", size(fnArm), size(helloArm))

	figuresCalls(t, out)
	figuresLatency(t, out)
	figuresColdStartAndMemory(t, out, fn, hello)
}

// deployedBuild builds pkg as the stack builds the function's bootstrap
// (infra/stack/bundle.go: GOOS=linux GOARCH=arm64 CGO_ENABLED=0 -tags lambda.norpc
// -trimpath -ldflags "-s -w"), for its size only: the tests run the host's.
func deployedBuild(t *testing.T, pkg string) string {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for arm64: %v\n%s", pkg, err, out)
	}
	return bin
}

// figuresCalls counts the AWS API calls of each kind of event.
func figuresCalls(t *testing.T, out *strings.Builder) {
	w := newWorld(t, map[string]string{"RESPONSE_MODE": "enforce", "IAM_RESPONSE": "off"})
	f := w.function()
	f.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()) // cold start
	fmt.Fprintf(out, "\nAWS API calls per event (goal: one publish per deduplicated alert; no S3 call when already quarantined):\n")
	for _, c := range []struct {
		name string
		e    ev
	}{
		{"allowed", ev{principal: session("etl"), ip: "10.0.0.2"}},
		{"unauthorized, enforce, new quarantine", ev{principal: session("writer")}},
		{"repeat within the window (counted)", ev{principal: session("writer")}},
		{"same principal, new source (already quarantined)", ev{principal: session("writer"), ip: "198.51.100.3"}},
		{"protected principal", ev{principal: session("BreakGlass")}},
	} {
		w.proxy.Reset()
		if r := f.MustInvoke(t, c.e.json()); r.Err != "" {
			t.Fatal(r.Err)
		}
		calls := w.proxy.Calls()
		n := 0
		for _, v := range calls {
			n += v
		}
		fmt.Fprintf(out, "  %-50s %2d  %s\n", c.name, n, harness.FormatCalls(calls))
	}
}

var logTimes = regexp.MustCompile(`"decideMs":([0-9.]+),"respondMs":([0-9.]+),"alertMs":([0-9.]+)`)

// figuresLatency splits warm invocations into decide / respond / alert,
// from the function's own log line per alert.
func figuresLatency(t *testing.T, out *strings.Builder) {
	const n = 20
	fmt.Fprintf(out, "\nlatency of one warm invocation against moto, median of %d (ms):\n", n)
	fmt.Fprintf(out, "  %-12s %8s %8s %8s %8s\n", "mode", "decide", "respond", "alert", "total")
	for _, mode := range []string{"alert", "enforce"} {
		w := newWorld(t, map[string]string{"RESPONSE_MODE": mode, "QUARANTINE_MAX_PER_HOUR": "1000"})
		for i := range n {
			w.createRole(fmt.Sprintf("lat%02d", i), "/")
		}
		f := w.function()
		f.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json())
		var total []float64
		for i := range n {
			t0 := time.Now()
			if r := f.MustInvoke(t, ev{principal: session(fmt.Sprintf("lat%02d", i))}.json()); r.Err != "" {
				t.Fatal(r.Err)
			}
			total = append(total, float64(time.Since(t0).Microseconds())/1000)
		}
		cols := [3][]float64{}
		for _, m := range logTimes.FindAllStringSubmatch(f.Log(), -1) {
			for i := range 3 {
				v, _ := strconv.ParseFloat(m[i+1], 64)
				cols[i] = append(cols[i], v)
			}
		}
		if len(cols[0]) != n {
			t.Fatalf("%s: %d timing lines in the log; want %d", mode, len(cols[0]), n)
		}
		fmt.Fprintf(out, "  %-12s %8.2f %8.2f %8.2f %8.2f\n", mode, median(cols[0]), median(cols[1]), median(cols[2]), median(total))
	}
	fmt.Fprintf(out, "  (respond = dedup write + quarantine: policy read, lock, write, verify, records; total is as the invoker sees it)\n")
}

// figuresColdStartAndMemory starts each bootstrap fresh under the RIE and
// times process start to the first event handled; then sends events and
// reads the bootstrap's peak RSS.
func figuresColdStartAndMemory(t *testing.T, out *strings.Builder, fn, hello string) {
	const runs, events = 11, 200
	w := newWorld(t, nil)
	var cold [2][]float64
	var rss [2]int
	for run := range runs {
		for i, bin := range []string{fn, hello} {
			t0 := time.Now()
			l := harness.StartLambda(t, bin, w.env)
			if r := l.MustInvoke(t, ev{principal: session("etl"), ip: "10.0.0.1"}.json()); r.Err != "" {
				t.Fatal(r.Err)
			}
			cold[i] = append(cold[i], float64(time.Since(t0).Microseconds())/1000)
			if run == 0 {
				for j := range events {
					e := ev{principal: session("etl"), ip: "10.0.0.1"}
					if j%4 == 0 {
						e = ev{principal: session("writer"), ip: fmt.Sprintf("203.0.113.%d", j%250)}
					}
					l.MustInvoke(t, e.json())
				}
				rss[i] = peakRSS(t, l)
			}
			l.Stop()
		}
	}
	a, b := median(cold[0]), median(cold[1])
	fmt.Fprintf(out, "\ncold start, RIE process start to the first event handled, median of %d (goal: at most 1.3x hello-world):\n", runs)
	fmt.Fprintf(out, "  s3xguard %.1f ms   hello-world %.1f ms   ratio %.2fx\n", a, b, a/b)
	fmt.Fprintf(out, "  (s3xguard's includes config validation and allowlist compile; sts:GetCallerIdentity waits for the first quarantine)\n")
	fmt.Fprintf(out, "\npeak RSS (VmHWM) after %d events, 1 in 4 alerting (goal: under 40 MB):\n", events)
	fmt.Fprintf(out, "  s3xguard %.1f MB   hello-world %.1f MB\n", float64(rss[0])/1024, float64(rss[1])/1024)
}

func peakRSS(t *testing.T, l *harness.Lambda) int {
	pid := l.BootstrapPID()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("bootstrap status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return kb
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
