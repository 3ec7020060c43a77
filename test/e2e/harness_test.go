// Package e2e runs the real hotline binary against real SIP peers (SIPp,
// baresip) over loopback sockets. The peers come from Debian packages that
// scripts/setup.sh installs.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	hotlineBin string
	repoRoot   string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hotline-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	repoRoot, _ = filepath.Abs("../..")
	hotlineBin = filepath.Join(dir, "hotline")
	// The server under test is built with the race detector too.
	build := exec.Command("go", "build", "-race", "-o", hotlineBin, "./cmd/hotline")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build hotline: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// need fails the test when a peer program is missing: make test installs
// them, so a missing one is a broken set-up, not a reason to skip.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s not found: run scripts/setup.sh (make test does)", prog)
	}
	return p
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// node is one running hotline process.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	SIPPort int
	RecDir  string
	logs    *logLines
	exited  chan error
}

// startHotline runs the binary with a test configuration; extra is YAML
// appended to it (top-level sections not already present).
func startHotline(t *testing.T, sipSection, extra string) *node {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	rtpMin := 20000 + (port%200)*100
	cfg := fmt.Sprintf(`log: {level: debug, format: json}
sip:
  listen: ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"]
  rtp_bind_addr: 127.0.0.1
  rtp_port_min: %d
  rtp_port_max: %d
  drain_time: 2s
%s
recording: {dir: %s, calls: true}
%s`, port, port, rtpMin, rtpMin+98, indent(sipSection), filepath.Join(dir, "rec"), extra)
	cfgPath := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, SIPPort: port, RecDir: filepath.Join(dir, "rec"), logs: &logLines{}, exited: make(chan error, 1)}
	n.cmd = exec.Command(hotlineBin, "serve", "-config", cfgPath)
	n.cmd.Dir = dir
	n.cmd.Env = append(os.Environ(), "HOTLINE_TEST_SECRET=s3cret-pw")
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go n.logs.read(stderr)
	go func() { n.exited <- n.cmd.Wait() }()
	t.Cleanup(n.stop)
	if _, ok := n.logs.wait("hotline ready", nil, 20*time.Second); !ok {
		t.Fatalf("hotline did not start:\n%s", n.logs.text())
	}
	return n
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n")
}

// stop sends SIGTERM and expects a clean exit; a race report or a panic in
// the server fails the test.
func (n *node) stop() {
	if n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-n.exited:
		n.exited <- err
		if err != nil {
			n.t.Errorf("hotline exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		n.t.Errorf("hotline did not stop within 15 s of SIGTERM")
	}
	if out := n.logs.text(); strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
		n.t.Errorf("hotline reported a race or panic:\n%s", out)
	}
	if n.t.Failed() {
		n.t.Logf("hotline log:\n%s", n.logs.text())
	}
}

// logLines collects the server's JSON log lines.
type logLines struct {
	mu    sync.Mutex
	raw   []string
	recs  []map[string]any
	added chan struct{}
}

func (l *logLines) read(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var rec map[string]any
		_ = json.Unmarshal([]byte(line), &rec)
		l.mu.Lock()
		l.raw = append(l.raw, line)
		if rec != nil {
			l.recs = append(l.recs, rec)
		}
		l.mu.Unlock()
	}
}

func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.raw, "\n")
}

// find returns the log records with msg whose attributes include attrs.
func (l *logLines) find(msg string, attrs map[string]any) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
next:
	for _, r := range l.recs {
		if r["msg"] != msg {
			continue
		}
		for k, v := range attrs {
			if fmt.Sprint(r[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// wait polls for a record with msg and attrs.
func (l *logLines) wait(msg string, attrs map[string]any, d time.Duration) (map[string]any, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if recs := l.find(msg, attrs); len(recs) > 0 {
			return recs[0], true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, false
}

// sipp runs one SIPp scenario from the repository root against n and
// returns its exit code and output.
func sipp(t *testing.T, n *node, timeout time.Duration, scenario string, args ...string) (int, string) {
	t.Helper()
	need(t, "sipp")
	ctx, cancel := context.WithTimeout(t.Context(), timeout+10*time.Second)
	defer cancel()
	full := append([]string{
		"-sf", filepath.Join("test", "sipp", scenario),
		"-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", fmt.Sprint(freePort(t)), "-mp", fmt.Sprint(freePort(t)),
		"-m", "1", "-timeout", fmt.Sprintf("%ds", int(timeout.Seconds())), "-timeout_error",
		"-nostdin",
	}, args...)
	full = append(full, fmt.Sprintf("127.0.0.1:%d", n.SIPPort))
	cmd := exec.CommandContext(ctx, "sipp", full...)
	cmd.Dir = repoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sipp: %v", err)
	}
	return code, out.String()
}
