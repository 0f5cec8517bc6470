// Package harness runs the real pieces the end-to-end tests need: moto in
// server mode standing in for AWS, the function's bootstrap built for Linux,
// and the AWS Lambda Runtime Interface Emulator running it. Every process
// listens on 127.0.0.1 only and is stopped by t.Cleanup.
//
// Tools are found through environment variables (test/run sets them):
// MOTO_SERVER, AWS_LAMBDA_RIE, CFN_LINT. A test whose tool is missing skips,
// unless S3XGUARD_REQUIRE_TOOLS=1, when it fails.
package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tool returns the path of the tool named by the environment variable env.
// When the variable is unset or names no executable file, the test skips,
// or fails if S3XGUARD_REQUIRE_TOOLS=1.
func Tool(t testing.TB, env string) string {
	t.Helper()
	path := os.Getenv(env)
	var reason string
	if path == "" {
		reason = env + " is not set"
	} else if fi, err := os.Stat(path); err != nil {
		reason = fmt.Sprintf("%s=%q: %v", env, path, err)
	} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
		reason = fmt.Sprintf("%s=%q is not an executable file", env, path)
	}
	if reason == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			t.Fatalf("tool %s: %v", env, err)
		}
		return abs
	}
	if os.Getenv("S3XGUARD_REQUIRE_TOOLS") == "1" {
		t.Fatalf("required tool missing: %s (run test/run, which installs it)", reason)
	}
	t.Skipf("tool missing: %s (test/run installs it)", reason)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// is drawn from below the kernel's ephemeral range (32768-60999 by
// default), which outgoing connections take their local ports from: a port
// from that range can be taken by any client's connect() between this
// check and the server's bind, and with tests opening thousands of
// connections a minute it was ("bind: address already in use" in the RIE).
// Below it, only another server picking the same port competes.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		port := lowPortMin + rand.IntN(lowPortMax-lowPortMin)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The ports FreePort draws from first.
const (
	lowPortMin = 20000
	lowPortMax = 32000
)

// proc is a child process in its own process group, with its output in a
// log file, so that stopping it also stops what it started (the RIE starts
// the bootstrap).
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
	once    sync.Once
}

func startProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s log (last 60 lines) ---\n%s", name, tail(p.log(), 60))
		}
	})
	return p
}

// stop ends the process group: SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// Children that ignored SIGTERM outlive their parent in the group.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p.logPath, err)
	}
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady calls probe until it succeeds, the process exits or the time
// is up.
func waitReady(p *proc, what string, within time.Duration, probe func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready: %v", p.name, p.waitErr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %v: %v", p.name, what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpProbe(url string) func() error {
	c := &http.Client{Timeout: time.Second}
	return func() error {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
}

func tcpProbe(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
}

// Moto is a moto server on 127.0.0.1.
type Moto struct {
	// URL is the endpoint for SDK clients, e.g. http://127.0.0.1:PORT.
	URL string
	p   *proc
}

// StartMoto starts moto_server on a free loopback port and waits until it
// answers. It is stopped when the test ends.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	bin := Tool(t, "MOTO_SERVER")
	// A free port can be taken by another process between FreePort and
	// moto's bind (parallel tests, other test runs on the machine): ours
	// then fails to bind, and the probe would be answered by a stranger.
	// Ready means our process owns the listening socket; else try again.
	var errs []error
	for range 3 {
		port := FreePort(t)
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		p := startProc(t, "moto", cmd)
		m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port), p: p}
		probe := httpProbe(m.URL + "/moto-api/")
		err := waitReady(p, m.URL, 60*time.Second, func() error {
			if !listensOn(p.cmd.Process.Pid, port) {
				return fmt.Errorf("port %d is not (yet) moto's own listening socket", port)
			}
			return probe()
		})
		if err == nil {
			return m
		}
		p.stop()
		errs = append(errs, err)
	}
	t.Fatal(errors.Join(errs...))
	return nil
}

// listensOn reports whether process pid holds a listening TCP socket on
// port (read from /proc: the socket's inode among the process's fds).
func listensOn(pid, port int) bool {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			if i := strings.LastIndexByte(fs[1], ':'); i >= 0 {
				if p, err := strconv.ParseInt(fs[1][i+1:], 16, 32); err == nil && int(p) == port {
					inodes["socket:["+fs[9]+"]"] = true
				}
			}
		}
	}
	if len(inodes) == 0 {
		return false
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
			return true
		}
	}
	return false
}

// Stop stops the server now (tests of AWS being unreachable use it).
func (m *Moto) Stop() { m.p.stop() }

// Log returns what the server printed so far.
func (m *Moto) Log() string { return m.p.log() }

// Reset clears all of moto's state.
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(m.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
}

// ModuleRoot returns the directory holding the module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the module")
	}
	return filepath.Dir(gomod), nil
}

var (
	buildMu   sync.Mutex
	buildDir  string
	buildErrs = map[string]error{}
	builds    = map[string]string{}
)

// Build builds the main package pkg (a path relative to the module root,
// e.g. "./lambda") the way it is deployed: Linux, no cgo, -tags
// lambda.norpc, -trimpath. It builds each package once per test binary;
// call Cleanup from TestMain to remove the outputs.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	return BuildWith(t, pkg, "")
}

// BuildWith is Build with -ldflags ldflags (such as config.PinFlag, which
// the stack's BuildFunction links in): each package and ldflags pair is
// built once per test binary.
func BuildWith(t testing.TB, pkg, ldflags string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "\x00" + ldflags
	if path, ok := builds[key]; ok {
		return path
	}
	if err, ok := buildErrs[key]; ok {
		t.Fatal(err)
	}
	path, err := build(pkg, ldflags)
	if err != nil {
		buildErrs[key] = err
		t.Fatal(err)
	}
	builds[key] = path
	return path
}

func build(pkg, ldflags string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if buildDir == "" {
		if buildDir, err = os.MkdirTemp("", "s3xguard-build-"); err != nil {
			return "", err
		}
	}
	// The RIE runs a file named bootstrap; keep one directory per build.
	dir := filepath.Join(buildDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg))
	if ldflags != "" {
		sum := sha256.Sum256([]byte(ldflags))
		dir += "-" + hex.EncodeToString(sum[:6])
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// Cleanup removes what Build produced. Call it from TestMain after m.Run.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Lambda is one Runtime Interface Emulator process running a bootstrap: one
// warm execution environment, handling one invocation at a time.
type Lambda struct {
	URL string
	p   *proc
}

// StartLambda runs bootstrap under the RIE on free loopback ports with
// exactly the given environment (plus PATH and HOME), and waits until the
// RIE accepts invocations. The bootstrap itself starts on the first Invoke,
// as in Lambda.
func StartLambda(t testing.TB, bootstrap string, env map[string]string) *Lambda {
	t.Helper()
	rie := Tool(t, "AWS_LAMBDA_RIE")
	// As for moto: a port can be taken between FreePort and the RIE's bind;
	// the RIE then exits (or a stranger answers): try again on new ports.
	var errs []error
	for range 3 {
		port, apiPort := FreePort(t), FreePort(t)
		cmd := exec.Command(rie,
			"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
			"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
			bootstrap)
		cmd.Dir = filepath.Dir(bootstrap)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		p := startProc(t, "lambda", cmd)
		l := &Lambda{URL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), p: p}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		probe := tcpProbe(addr)
		// Ready means this RIE holds both ports, not a stranger.
		err := waitReady(p, addr, 30*time.Second, func() error {
			if !listensOn(p.cmd.Process.Pid, port) || !listensOn(p.cmd.Process.Pid, apiPort) {
				return fmt.Errorf("ports %d, %d are not (yet) this emulator's", port, apiPort)
			}
			return probe()
		})
		if err == nil {
			return l
		}
		p.stop()
		errs = append(errs, err)
	}
	t.Fatal(errors.Join(errs...))
	return nil
}

// Result is the answer to one invocation.
type Result struct {
	Status int
	Body   []byte
	// Err is the function's error message when the invocation failed
	// (the body carried errorMessage/errorType), else "".
	Err string
}

// Invoke sends one event and waits for the function's answer.
func (l *Lambda) Invoke(ctx context.Context, payload []byte) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewReader(payload))
	if err != nil {
		return Result{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("invoke: read answer: %w", err)
	}
	r := Result{Status: resp.StatusCode, Body: body}
	if e := functionError(body); e != "" {
		r.Err = e
	} else if resp.StatusCode != http.StatusOK {
		r.Err = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
	}
	return r, nil
}

// MustInvoke is Invoke that fails the test on a transport error.
func (l *Lambda) MustInvoke(t testing.TB, payload []byte) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := l.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Log returns what the RIE and the function printed so far.
func (l *Lambda) Log() string { return l.p.log() }

// Stop stops the RIE and the function.
func (l *Lambda) Stop() { l.p.stop() }

// BootstrapPID returns the PID of the running bootstrap (a child of the
// RIE), or 0 if it has not started.
func (l *Lambda) BootstrapPID() int {
	// Any of the RIE's threads may have started it.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", l.p.cmd.Process.Pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			var child int
			if _, err := fmt.Sscan(f, &child); err == nil {
				return child
			}
		}
	}
	return 0
}

// functionError returns the errorMessage of a Lambda error payload, or "".
func functionError(body []byte) string {
	var e struct {
		Message *string `json:"errorMessage"`
		Type    string  `json:"errorType"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == nil {
		return ""
	}
	return e.Type + ": " + *e.Message
}

// Main runs the tests of a package that uses the harness and removes what
// Build produced: func TestMain(m *testing.M) { harness.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// KillBootstrap sends SIGKILL to the running bootstrap, as a crashed or
// out-of-memory execution environment dies: no deferred cleanup runs.
func (l *Lambda) KillBootstrap() error {
	pid := l.BootstrapPID()
	if pid == 0 {
		return errors.New("kill bootstrap: not running")
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}
