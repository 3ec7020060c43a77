// Package e2e runs the real hotline binary against real SIP peers (SIPp,
// baresip) over loopback sockets. The peers come from Debian packages that
// scripts/setup.sh installs.
//
// The harness: startHotline runs a race-built hotline on free ports with a
// test configuration and collects its JSON log (logLines); runSIPp runs one
// SIPp scenario from test/sipp against it (startSIPp several at once), and
// writeRTPPcap makes the caller audio it replays; startCapture records
// loopback traffic with tcpdump; loadRecording, rtpAudio, findSignal and
// matchPieces measure what was heard and sent against the source audio,
// and loudTimes, speechOnsets and promptStop time speech and barge-in on
// the wire.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/pcapfile"
	"github.com/hotline-cc/hotline/media"
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
	// The server under test is built with the race detector too, except
	// for benchmarks (HOTLINE_BENCH), which measure the build that runs in
	// production.
	args := []string{"build", "-race", "-o", hotlineBin, "./cmd/hotline"}
	if os.Getenv("HOTLINE_BENCH") != "" {
		args = slices.Delete(args, 1, 2)
	}
	build := exec.Command("go", args...)
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

// needRoot fails the test unless it runs as root: SIPp replays RTP from
// pcap files over a raw socket and tcpdump captures loopback, both of
// which need root (or CAP_NET_RAW).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: SIPp's play_pcap_audio sends over a raw socket and tcpdump captures loopback")
	}
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

// freeMediaPort returns an even port p with UDP p to p+3 free on ip: SIPp
// binds its audio socket on -mp and its video socket two above.
func freeMediaPort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port &^ 1
		u.Close()
		if p+3 > 65535 {
			continue
		}
		ok := true
		for q := p; q < p+4 && ok; q++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", ip, q))
			if err != nil {
				ok = false
				continue
			}
			c.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free media port")
	return 0
}

// rtpRanges hands each hotline of this process its own RTP port range,
// below the kernel's ephemeral ports (32768 and up) where freePort and the
// peers' sockets land. A port in use anyway is skipped by Hotline.
var rtpRanges atomic.Int32

func nextRTPRange() (min, max int) {
	k := int(rtpRanges.Add(1)-1) % 60
	min = 20000 + k*200
	return min, min + 198
}

// node is one running hotline process.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	SIPPort int
	Dir     string // the process's working folder, holding its configuration and records
	RecDir  string
	logs    *logLines
	exited  chan struct{} // closed when the process has exited and its log is read
	waitErr error         // the process's exit status, once exited is closed
	once    sync.Once
}

// e2eAPIToken is the supervisor's token for Hotline's operator API.
const e2eAPIToken = "e2e-supervisor-token-0123456789"

// e2eAgentPassword is the digest password of the agents' phones, in
// HOTLINE_TEST_AGENT_PW.
const e2eAgentPassword = "agent-pw-0123456789"

// e2eOpenAIKey is the API key Hotline has for OpenAI-compatible test
// servers.
const e2eOpenAIKey = "sk-e2e-0123456789abcdef"

// startHotline runs the binary with a test configuration; sipSection is
// YAML added under sip: (keys not already set: listen, rtp_bind_addr,
// rtp_port_min/max, drain_time), extra is YAML appended at the top level
// (sections not already present: log, sip, recording, api, on a free port
// with the supervisor token e2eAPIToken, webrtc on a free port and
// loopback; dialog, which is the key and voice
// menu unless extra sets it). The environment has
// HOTLINE_TEST_SECRET=s3cret-pw for a trunk's password_env,
// HOTLINE_TEST_AGENT_PW for an agent phone's, and OPENAI_API_KEY.
func startHotline(t *testing.T, sipSection, extra string) *node {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	rtpMin, rtpMax := nextRTPRange()
	cfg := fmt.Sprintf(`log: {level: debug, format: json}
sip:
  listen: ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"]
  rtp_bind_addr: 127.0.0.1
  rtp_port_min: %d
  rtp_port_max: %d
  drain_time: 2s
%s
recording: {dir: %s, calls: true}
%s`, port, port, rtpMin, rtpMax, indent(sipSection), filepath.Join(dir, "rec"), extra)
	if !strings.Contains(extra, "dialog:") {
		cfg += "\ndialog: {brain: menu}\n"
	}
	cfg += fmt.Sprintf("\napi: {listen: \"127.0.0.1:%d\", tokens: [{name: ops, role: supervisor, token_env: HOTLINE_TEST_TOKEN}]}\n", freePort(t))
	cfg += fmt.Sprintf("webrtc: {listen: \"127.0.0.1:%d\", loopback_only: true}\n", freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "hotline.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return launchHotline(t, dir, port)
}

// restartHotline runs the binary again in n's folder with n's
// configuration: its records and recordings are where n left them.
func restartHotline(t *testing.T, n *node) *node {
	t.Helper()
	return launchHotline(t, n.Dir, n.SIPPort)
}

// launchHotline runs the binary in dir with dir's hotline.yaml.
func launchHotline(t *testing.T, dir string, port int) *node {
	t.Helper()
	cfgPath := filepath.Join(dir, "hotline.yaml")
	n := &node{t: t, SIPPort: port, Dir: dir, RecDir: filepath.Join(dir, "rec"), logs: &logLines{}, exited: make(chan struct{})}
	n.cmd = exec.Command(hotlineBin, "serve", "-config", cfgPath)
	n.cmd.Dir = dir
	n.cmd.Env = append(os.Environ(), "HOTLINE_TEST_SECRET=s3cret-pw", "OPENAI_API_KEY="+e2eOpenAIKey,
		"HOTLINE_TEST_TOKEN="+e2eAPIToken, "HOTLINE_TEST_AGENT_PW="+e2eAgentPassword,
		// The nodes of a cluster sign the agent legs they ask each other for.
		"HOTLINE_NODE_SECRET=e2e-cluster-secret-0123456789")
	// Our own pipe, not StderrPipe: Wait must not close the reading end
	// before the last lines (shutdown, a race report) are read.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stderr = pw
	if err := n.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatal(err)
	}
	pw.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer pr.Close()
		n.logs.read(pr)
	}()
	go func() {
		err := n.cmd.Wait()
		<-read
		n.waitErr = err
		close(n.exited)
	}()
	t.Cleanup(n.Stop)
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

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it.
func (n *node) Kill() {
	n.once.Do(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
	})
}

// Stop sends SIGTERM and expects a clean exit; a race report or a panic in
// the server fails the test. It runs once (also at cleanup); after it the
// whole log is in n.logs.
func (n *node) Stop() {
	n.once.Do(n.stop)
}

func (n *node) stop() {
	select {
	case <-n.exited:
	default:
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-n.exited:
		if n.waitErr != nil {
			n.t.Errorf("hotline exited with %v", n.waitErr)
		}
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		n.t.Errorf("hotline did not stop within 15 s of SIGTERM")
	}
	if out := n.logs.text(); strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
		n.t.Errorf("hotline reported a race or panic:\n%s", out)
	}
	if n.t.Failed() {
		n.t.Logf("hotline log (debug lines left out):\n%s", n.logs.textAbove("DEBUG"))
	}
}

// logLines collects the server's JSON log lines.
type logLines struct {
	mu   sync.Mutex
	raw  []string
	recs []map[string]any
}

func (l *logLines) read(r io.Reader) {
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

// textAbove is the log without the records at level skip (and without
// sipgo's message dumps), plus every line that is not JSON.
func (l *logLines) textAbove(skip string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, line := range l.raw {
		var rec struct{ Level string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == skip {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// find returns the log records with msg whose attributes include attrs, in
// log order.
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
	for {
		if recs := l.find(msg, attrs); len(recs) > 0 {
			return recs[0], true
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// must waits for the record with msg and attrs and fails the test without it.
func (l *logLines) must(t *testing.T, msg string, attrs map[string]any, d time.Duration) map[string]any {
	t.Helper()
	r, ok := l.wait(msg, attrs, d)
	if !ok {
		t.Fatalf("no %q log record with %v", msg, attrs)
	}
	return r
}

// none fails the test if a record with msg and attrs was logged.
func (l *logLines) none(t *testing.T, msg string, attrs map[string]any) {
	t.Helper()
	if recs := l.find(msg, attrs); len(recs) > 0 {
		t.Errorf("unexpected %q log record: %v", msg, recs[0])
	}
}

// summarize sums up each record as the values it has of keys, space
// separated, for comparing a sequence of records with what is expected.
func summarize(recs []map[string]any, keys ...string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		var vals []string
		for _, k := range keys {
			if v, ok := r[k]; ok {
				vals = append(vals, fmt.Sprint(v))
			}
		}
		out[i] = strings.Join(vals, " ")
	}
	return out
}

// logTime is the time of a log record.
func logTime(t *testing.T, rec map[string]any) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(rec["time"]))
	if err != nil {
		t.Fatalf("log record time: %v", err)
	}
	return ts
}

// sippRun is one SIPp invocation.
type sippRun struct {
	Scenario string        // file name in test/sipp, or an absolute path
	Timeout  time.Duration // SIPp's global -timeout; the call fails after it
	IP       string        // local address for SIP and media; default 127.0.0.1
	SIPPort  int           // local SIP port; 0 picks a free one
	Media    int           // local media port (-mp); 0 picks a free one
	Args     []string      // more options, e.g. -au, -ap
}

// sippResult is what a SIPp run left behind.
type sippResult struct {
	Code     int    // exit code: 0 all calls succeeded, 1 one failed
	Out      string // the final screens
	CallID   string // the Call-ID of its (single) call
	IP       string
	SIPPort  int
	Media    int
	Log      string // what the scenario's <log> actions wrote (-trace_logs)
	Errors   string // unexpected messages and failures (-trace_err)
	Messages string // every message sent and received (-trace_msg)
}

// runSIPp runs one SIPp scenario, one call, against n and returns when it
// is over. The scenario file is taken from test/sipp unless its path is
// absolute (a scenario written next to the pcap files it plays); SIPp runs
// in the repository root.
func runSIPp(t *testing.T, n *node, r sippRun) sippResult {
	t.Helper()
	return startSIPp(t, n, r).wait(t)
}

// sippProc is a SIPp run under way, for tests that place calls at the same
// time.
type sippProc struct {
	cmd      *exec.Cmd
	ctx      context.Context
	cancel   context.CancelFunc
	out      bytes.Buffer
	files    map[string]string
	scenario string
	limit    time.Duration
	res      sippResult
}

// startSIPp starts what runSIPp runs; wait waits for it.
func startSIPp(t *testing.T, n *node, r sippRun) *sippProc {
	t.Helper()
	need(t, "sipp")
	if r.IP == "" {
		r.IP = "127.0.0.1"
	}
	if r.SIPPort == 0 {
		r.SIPPort = freePort(t)
	}
	if r.Media == 0 {
		r.Media = freeMediaPort(t, r.IP)
	}
	p := &sippProc{scenario: r.Scenario, limit: r.Timeout + 15*time.Second, files: map[string]string{},
		res: sippResult{IP: r.IP, SIPPort: r.SIPPort, Media: r.Media}}
	if !filepath.IsAbs(p.scenario) {
		p.scenario = filepath.Join(repoRoot, "test", "sipp", p.scenario)
	}
	dir := t.TempDir()
	for _, k := range []string{"log", "error", "message"} {
		p.files[k] = filepath.Join(dir, k+".txt")
	}
	p.ctx, p.cancel = context.WithTimeout(t.Context(), p.limit)
	t.Cleanup(p.cancel)
	args := append([]string{
		"-sf", p.scenario,
		"-s", "hotline",
		"-i", r.IP, "-mi", r.IP,
		"-p", fmt.Sprint(r.SIPPort), "-mp", fmt.Sprint(r.Media),
		"-m", "1", "-timeout", fmt.Sprintf("%dms", r.Timeout.Milliseconds()), "-timeout_error",
		"-nostdin",
		"-trace_logs", "-log_file", p.files["log"],
		"-trace_err", "-error_file", p.files["error"],
		"-trace_msg", "-message_file", p.files["message"],
	}, r.Args...)
	args = append(args, fmt.Sprintf("127.0.0.1:%d", n.SIPPort))
	p.cmd = exec.CommandContext(p.ctx, "sipp", args...)
	p.cmd.Dir = repoRoot
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	// SIPp names its calls <call number>-<pid>@<local ip>.
	p.res.CallID = fmt.Sprintf("1-%d@%s", p.cmd.Process.Pid, r.IP)
	return p
}

func (p *sippProc) wait(t *testing.T) sippResult {
	t.Helper()
	defer p.cancel()
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		p.res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sipp: %v", err)
	}
	if p.ctx.Err() != nil {
		t.Errorf("sipp %s did not finish within %s", filepath.Base(p.scenario), p.limit)
	}
	p.res.Out = p.out.String()
	read := func(k string) string {
		b, _ := os.ReadFile(p.files[k])
		return string(b)
	}
	p.res.Log, p.res.Errors, p.res.Messages = read("log"), read("error"), read("message")
	return p.res
}

// expectSuccess fails the test unless SIPp's call succeeded, and shows why.
func (r sippResult) expectSuccess(t *testing.T) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("sipp exit code %d, want 0\nerrors:\n%s\nmessages (last part):\n%s\nscreen:\n%s",
			r.Code, r.Errors, tail(r.Messages, 8000), tail(r.Out, 4000))
	}
}

// received reports whether SIPp received a message starting with first
// and containing every one of lines, by its message trace.
func (r sippResult) received(first string, lines ...string) bool {
	for _, m := range strings.Split(r.Messages, "\n-----------------------------------------------") {
		head, body, ok := strings.Cut(m, "message received")
		if !ok || !strings.Contains(head, "UDP") && !strings.Contains(head, "TCP") {
			continue
		}
		_, body, _ = strings.Cut(body, "\n\n")
		if !strings.HasPrefix(body, first) {
			continue
		}
		all := true
		for _, l := range lines {
			all = all && strings.Contains(body, l)
		}
		if all {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// sipp runs one SIPp scenario from the repository root against n and
// returns its exit code and output.
func sipp(t *testing.T, n *node, timeout time.Duration, scenario string, args ...string) (int, string) {
	t.Helper()
	r := runSIPp(t, n, sippRun{Scenario: scenario, Timeout: timeout, Args: args})
	return r.Code, r.Out + r.Errors
}

// capture is a tcpdump recording loopback traffic to a pcap file.
type capture struct {
	cmd    *exec.Cmd
	path   string
	stderr *bytes.Buffer
	done   chan error
	once   sync.Once
}

// startCapture starts tcpdump on lo with the capture filter expr (for
// example "udp port 16000") and returns once it is capturing.
func startCapture(t *testing.T, expr string) *capture {
	t.Helper()
	needRoot(t)
	need(t, "tcpdump")
	c := &capture{path: filepath.Join(t.TempDir(), "lo.pcap"), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	// -U: write each packet as it comes; -Z root: keep the rights to write
	// into the test's private temporary folder.
	c.cmd = exec.Command("tcpdump", "-i", "lo", "-n", "-U", "-Z", "root", "-w", c.path, expr)
	pr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			c.stderr.WriteString(sc.Text() + "\n")
			if !seen && strings.Contains(sc.Text(), "listening on") {
				seen = true
				close(listening)
			}
		}
		if !seen {
			close(listening)
		}
		c.done <- c.cmd.Wait()
	}()
	t.Cleanup(c.halt)
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start within 10 s")
	}
	return c
}

// halt ends tcpdump, which writes out what it holds on SIGINT.
func (c *capture) halt() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
}

// stop ends the capture and returns its UDP packets.
func (c *capture) stop(t *testing.T) []pcapfile.Packet {
	t.Helper()
	c.halt()
	f, err := os.Open(c.path)
	if err != nil {
		t.Fatalf("tcpdump wrote no capture: %v\n%s", err, c.stderr)
	}
	defer f.Close()
	pkts, err := pcapfile.Read(f)
	if err != nil {
		t.Fatalf("read capture: %v", err)
	}
	return pkts
}

// Audio measurements. Everything here is 8 kHz 16-bit mono PCM.

const rate = 8000

// sec is a number of seconds as a sample count at 8 kHz.
func sec(s float64) int { return int(s * rate) }

// loadRecording reads a 16-bit PCM WAV file as Hotline's recorder writes it
// and returns each channel (for a call: caller left, Hotline right).
func loadRecording(t *testing.T, path string) [][]int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := parseWAV(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return chans
}

func parseWAV(b []byte) ([][]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF WAVE file")
	}
	le := binary.LittleEndian
	channels := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(le.Uint32(b[off+4:]))
		body := b[off+8 : min(off+8+size, len(b))]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, errors.New("short fmt chunk")
			}
			channels = int(le.Uint16(body[2:]))
			if r, bits := le.Uint32(body[4:]), le.Uint16(body[14:]); r != rate || bits != 16 || channels < 1 {
				return nil, fmt.Errorf("want 8 kHz 16-bit PCM, have %d Hz %d-bit, %d channels", r, bits, channels)
			}
		case "data":
			if channels == 0 {
				return nil, errors.New("data before fmt")
			}
			frames := len(body) / (2 * channels)
			out := make([][]int16, channels)
			for c := range out {
				out[c] = make([]int16, frames)
			}
			for i := range frames {
				for c := range channels {
					out[c][i] = int16(le.Uint16(body[2*(i*channels+c):]))
				}
			}
			return out, nil
		}
		off += 8 + size + size%2
	}
	return nil, errors.New("no data chunk")
}

// loadSource reads a reference WAV (a prompt, the caller's speech) at 8 kHz.
func loadSource(t *testing.T, rel string) []int16 {
	t.Helper()
	pcm, err := media.LoadWAVFile(filepath.Join(repoRoot, rel), rate)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// rtpFrame is one G.711 RTP packet of a capture, decoded.
type rtpFrame struct {
	Time time.Time // when it was captured
	TS   uint32    // its RTP timestamp
	PCM  []int16
}

// rtpFrames decodes the G.711 packets sent from src to dst, in capture
// order; telephone-event and comfort noise packets are left out.
func rtpFrames(pkts []pcapfile.Packet, src, dst netip.AddrPort) []rtpFrame {
	var out []rtpFrame
	for _, p := range pkts {
		if p.Src != src || p.Dst != dst {
			continue
		}
		var h rtp.Packet
		if err := h.Unmarshal(p.Payload); err != nil {
			continue
		}
		var codec media.Codec
		switch h.PayloadType {
		case 0:
			codec = media.PCMU
		case 8:
			codec = media.PCMA
		default:
			continue
		}
		out = append(out, rtpFrame{Time: p.Time, TS: h.Timestamp, PCM: codec.Decode(nil, h.Payload)})
	}
	return out
}

// rtpAudio rebuilds the G.711 audio of the packets sent from src to dst
// as a timeline placed by RTP timestamp from the first packet: what a
// receiver would play, with silence where nothing was sent. It also
// returns how many audio packets there were.
func rtpAudio(t *testing.T, pkts []pcapfile.Packet, src, dst netip.AddrPort) ([]int16, int) {
	t.Helper()
	frames := rtpFrames(pkts, src, dst)
	var out []int16
	for _, f := range frames {
		at := int(int32(f.TS - frames[0].TS))
		if at < 0 || at > sec(600) {
			t.Fatalf("rtp timestamp %d jumps from the first one %d", f.TS, frames[0].TS)
		}
		if end := at + len(f.PCM); end > len(out) {
			out = append(out, make([]int16, end-len(out))...)
		}
		copy(out[at:], f.PCM)
	}
	return out, len(frames)
}

// writeRTPPcap writes pcm as a pcap of μ-law RTP for SIPp's play_pcap_audio:
// 20 ms packets, payload type 0, one SSRC, paced 20 ms apart. SIPp sends
// them from its -mp port to the media address Hotline answered with, so the
// addresses written do not matter.
func writeRTPPcap(t *testing.T, path string, pcm []int16) {
	t.Helper()
	var buf bytes.Buffer
	if err := pcapfile.WriteRTP(&buf, pcm, media.PCMU); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Levels that tell sound from silence in one 20 ms packet: a caller's
// speech is a packet above onsetDBFS, a prompt is playing while Hotline's
// packets are above promptDBFS.
const (
	onsetDBFS  = -40
	promptDBFS = -50
)

// loudTimes returns the capture times of the frames above db, in order.
func loudTimes(frames []rtpFrame, db float64) []time.Time {
	var out []time.Time
	for _, f := range frames {
		if media.Level(f.PCM) > db {
			out = append(out, f.Time)
		}
	}
	return out
}

// speechOnsets returns where each stretch of sound in loud (loudTimes)
// begins: the first time, and every one that comes at least quiet after
// the one before.
func speechOnsets(loud []time.Time, quiet time.Duration) []time.Time {
	var out []time.Time
	for i, at := range loud {
		if i == 0 || at.Sub(loud[i-1]) >= quiet {
			out = append(out, at)
		}
	}
	return out
}

// promptStop says when the sound under way at moment at stopped, from the
// times its frames were loud (loudTimes): the last of the run of times,
// none more than gap after the one before, that includes the last one at
// most gap before at. playing is false when there is no such run. gap
// bridges the pauses between a prompt's words and must be shorter than
// Hotline takes to answer.
func promptStop(loud []time.Time, at time.Time, gap time.Duration) (stop time.Time, playing bool) {
	for _, l := range loud {
		switch {
		case l.Before(at.Add(-gap)):
		case !playing && l.After(at):
			return stop, false
		case playing && l.Sub(stop) > gap:
			return stop, true
		default:
			stop, playing = l, true
		}
	}
	return stop, playing
}

// clip is pcm[from:to] within bounds.
func clip(pcm []int16, from, to int) []int16 {
	from, to = max(from, 0), min(to, len(pcm))
	if from >= to {
		return nil
	}
	return pcm[from:to]
}

const envBlock = 80 // 10 ms

// envelope is the RMS of each 10 ms block of pcm.
func envelope(pcm []int16) []float64 {
	env := make([]float64, len(pcm)/envBlock)
	for i := range env {
		var s float64
		for _, v := range pcm[i*envBlock : (i+1)*envBlock] {
			s += float64(v) * float64(v)
		}
		env[i] = math.Sqrt(s / envBlock)
	}
	return env
}

func pearson(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		x, y := a[i]-ma, b[i]-mb
		sab += x * y
		saa += x * x
		sbb += y * y
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// findSignal looks for ref in hay starting between sample from and to, by
// the correlation of their 10 ms loudness envelopes: it returns the start
// (to 10 ms) and that correlation. It only says where ref most likely is;
// matchPieces says whether it really is there.
func findSignal(hay, ref []int16, from, to int) (at int, corr float64) {
	eh, er := envelope(hay), envelope(ref)
	corr = -2
	for b := max(from, 0) / envBlock; b <= to/envBlock && b+len(er) <= len(eh); b++ {
		if c := pearson(eh[b:b+len(er)], er); c > corr {
			corr, at = c, b*envBlock
		}
	}
	return at, corr
}

// matchPieces cuts ref into half-second pieces and looks for each one in
// hay, the first where ref starts at sample at, each next one after where
// the previous was found (±slack samples, so a dropped or concealed frame
// does not lose the thread). A piece not found there is looked for again
// within half a second by its envelope: a loaded machine makes Hotline's
// clock skip slots, which shifts the rest of the audio by that much. It
// returns the waveform correlation of every piece that has speech in it
// (above -40 dBFS).
func matchPieces(hay, ref []int16, at int) []float64 {
	const piece, slack = 4000, 320
	var out []float64
	next := at
	for off := 0; off+piece <= len(ref); off += piece {
		p := ref[off : off+piece]
		want := next
		next += piece
		if media.Level(p) < -40 {
			continue
		}
		c, found := correlateNear(hay, p, want, slack)
		if c < 0.9 {
			guess, _ := findSignal(hay, p, want-sec(0.5), want+sec(0.5))
			if c2, f2 := correlateNear(hay, p, guess, 2*envBlock); c2 > c {
				c, found = c2, f2
			}
		}
		out = append(out, c)
		if c > 0.5 {
			next = found + piece
		}
	}
	return out
}

// correlateNear finds p in hay starting within ±slack samples of want and
// returns the normalized correlation there and where that start is.
func correlateNear(hay, p []int16, want, slack int) (float64, int) {
	lo, hi := max(0, want-slack), min(len(hay), want+slack+len(p))
	if hi-lo < len(p) {
		return 0, want
	}
	c, lag := audiotest.BestCorrelation(hay[lo:hi], p, 2*slack)
	if lag < 0 || lo+lag+len(p) > len(hay) {
		return 0, want
	}
	return c, lo + lag
}

// expectSignal fails the test unless ref is in hay, starting between from
// and to: at least 80% of its voiced half-second pieces must correlate
// with hay at 0.9 or better. G.711 alone leaves about 0.999. It returns
// where ref starts.
func expectSignal(t *testing.T, what string, hay, ref []int16, from, to int) int {
	t.Helper()
	at, env := findSignal(hay, ref, from, to)
	scores := matchPieces(hay, ref, at)
	good := 0
	for _, c := range scores {
		if c >= 0.9 {
			good++
		}
	}
	t.Logf("%s: found at %.2f s (envelope correlation %.2f), piece correlations %.3f",
		what, float64(at)/rate, env, scores)
	if len(scores) == 0 || float64(good) < 0.8*float64(len(scores)) {
		t.Errorf("%s: not found between %.1f s and %.1f s: best guess at %.2f s matches in %d of %d pieces",
			what, float64(from)/rate, float64(to)/rate, float64(at)/rate, good, len(scores))
	}
	return at
}

// apiClient calls a node's operator API with the supervisor's token.
type apiClient struct {
	t    *testing.T
	base string
}

func newAPIClient(t *testing.T, n *node) *apiClient {
	return &apiClient{t: t, base: "http://" + fmt.Sprint(n.logs.must(t, "api listening", nil, time.Second)["addr"])}
}

// send sends a request with a body of the content type (none when empty)
// and returns the answer, its body read and closed, with the body.
func (c *apiClient) send(method, path, contentType, body string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

// do sends a request, fails the test unless the answer has status, and
// decodes a JSON answer into v when v is not nil. It returns the body.
func (c *apiClient) do(method, path, contentType, body string, status int, v any) string {
	c.t.Helper()
	resp, b := c.send(method, path, contentType, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, status)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return string(b)
}
