// Package trino starts a real Trino server (installed by test/tools.sh into
// .tools/) on a loopback port with the memory connector, and runs
// statements through its HTTP API. The tests of this package prove that the
// allowlist's SQL (rules/query) selects exactly what `check` decides.
package trino

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server is a running Trino coordinator.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Log  string // path of its combined output
	cmd  *exec.Cmd
	done chan struct{}
	http *http.Client
}

// ErrNotInstalled means TRINO_HOME is unset or holds no Trino.
var ErrNotInstalled = errors.New("trino is not installed (TRINO_HOME unset; run test/run, which installs it into .tools/)")

// Start runs Trino from TRINO_HOME with the JVM of TRINO_JAVA_HOME under
// dir, and waits until it answers queries. Only the memory plugin is
// loaded, which keeps the start short.
func Start(ctx context.Context, dir string) (*Server, error) {
	home := os.Getenv("TRINO_HOME")
	if home == "" {
		return nil, ErrNotInstalled
	}
	launcher := filepath.Join(home, "bin", "launcher")
	if _, err := os.Stat(launcher); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	javaHome := os.Getenv("TRINO_JAVA_HOME")
	if javaHome == "" {
		javaHome = "/usr/lib/jvm/temurin-25-jdk-amd64"
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	etc, data, plugins := filepath.Join(dir, "etc"), filepath.Join(dir, "data"), filepath.Join(dir, "plugin")
	for _, d := range []string{filepath.Join(etc, "catalog"), data, plugins} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Symlink(filepath.Join(home, "plugin", "memory"), filepath.Join(plugins, "memory")); err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	files := map[string]string{
		"node.properties": "node.environment=test\nnode.id=s3xguard-test\nnode.data-dir=" + data +
			"\nnode.bind-ip=127.0.0.1\nnode.internal-address=127.0.0.1\n",
		"jvm.config": "-server\n-Xmx2G\n-XX:+UseG1GC\n-XX:+ExitOnOutOfMemoryError\n-XX:TieredStopAtLevel=1\n-Djdk.attach.allowAttachSelf=true\n",
		"config.properties": fmt.Sprintf("coordinator=true\nnode-scheduler.include-coordinator=true\nhttp-server.http.port=%d\n"+
			"discovery.uri=%s\nplugin.dir=%s\nquery.max-memory=1GB\nquery.max-memory-per-node=1GB\n", port, url, plugins),
		"log.properties":            "io.trino=WARN\n",
		"catalog/memory.properties": "connector.name=memory\nmemory.max-data-per-node=512MB\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, "trino.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(launcher, "run", "-etc-dir", etc, "-data-dir", data, "-jvm-dir", javaHome)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so Stop ends the JVM the launcher starts too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start trino: %w", err)
	}
	s := &Server{URL: url, Log: logPath, cmd: cmd, done: make(chan struct{}), http: &http.Client{Timeout: 5 * time.Minute}}
	go func() { cmd.Wait(); logf.Close(); close(s.done) }()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /v1/info until the server has started, then runs a query
// (the memory catalog loads after the HTTP server answers).
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	for {
		select {
		case <-s.done:
			return fmt.Errorf("trino exited while starting; log %s:\n%s", s.Log, s.Tail(4000))
		case <-ctx.Done():
			return fmt.Errorf("trino did not start in time; log %s:\n%s", s.Log, s.Tail(4000))
		case <-time.After(500 * time.Millisecond):
		}
		resp, err := s.http.Get(s.URL + "/v1/info")
		if err != nil {
			continue
		}
		var info struct{ Starting bool }
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if err != nil || info.Starting {
			continue
		}
		if _, err := s.Query(ctx, "SELECT count(*) FROM memory.information_schema.schemata"); err == nil {
			return nil
		}
	}
}

// Tail returns the last n bytes of the server's log.
func (s *Server) Tail(n int) string {
	b, _ := os.ReadFile(s.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Stop ends the server's process group and waits for it.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Result is a statement's answer.
type Result struct {
	Columns []string
	Rows    [][]any
}

type response struct {
	NextURI string `json:"nextUri"`
	Columns []struct {
		Name string `json:"name"`
	} `json:"columns"`
	Data  [][]any `json:"data"`
	Error *struct {
		Message   string `json:"message"`
		ErrorName string `json:"errorName"`
	} `json:"error"`
}

// Query runs one statement and returns all its rows.
func (s *Server) Query(ctx context.Context, sql string) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/statement", strings.NewReader(sql))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Trino-User", "s3xguard-test")
	res := &Result{}
	for {
		resp, err := s.http.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("trino: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		var r response
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			return nil, fmt.Errorf("trino: bad response: %w", err)
		}
		if r.Error != nil {
			return nil, fmt.Errorf("trino: %s: %s", r.Error.ErrorName, r.Error.Message)
		}
		if res.Columns == nil && r.Columns != nil {
			for _, c := range r.Columns {
				res.Columns = append(res.Columns, c.Name)
			}
		}
		res.Rows = append(res.Rows, r.Data...)
		if r.NextURI == "" {
			return res, nil
		}
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, r.NextURI, nil); err != nil {
			return nil, err
		}
		req.Header.Set("X-Trino-User", "s3xguard-test")
	}
}
