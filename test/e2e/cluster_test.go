package e2e

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/hotline-cc/hotline/internal/logbuf"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

// cluster is three Hotline nodes sharing a PostgreSQL database behind
// Kamailio, configured with deploy/kamailio.cfg.
type cluster struct {
	t     *testing.T
	db    *sql.DB
	nodes []*clusterNode
	front *node // Kamailio's SIP port, for startSIPp
	ctl   string
}

type clusterNode struct {
	*node
	name string
	api  string // http://host:port
}

// clusterConfig is what the nodes' configuration adds to startCluster's:
// YAML under sip:, the dialog and ivr sections, and more top-level
// sections.
type clusterConfig struct {
	SIP, Dialog, IVR, Extra string
}

// startCluster starts PostgreSQL, n nodes and Kamailio. The nodes run the
// menu, by default with keys only and waiting for a key far longer than a
// call lasts, so every call lasts as long as SIPp keeps it, and drain for
// 20 s, longer than any call of the test.
func startCluster(t *testing.T, n int, cc clusterConfig) *cluster {
	t.Helper()
	kamailio := need(t, "kamailio")
	need(t, "kamcmd")
	dsn := pgtest.New(t)
	t.Setenv("HOTLINE_DATABASE_URL", dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &cluster{t: t, db: db}

	dir := t.TempDir()
	var list strings.Builder
	for k := 1; k <= n; k++ {
		nd := filepath.Join(dir, fmt.Sprintf("node%d", k))
		if err := os.Mkdir(nd, 0o755); err != nil {
			t.Fatal(err)
		}
		port, api := freePort(t), freePort(t)
		rtpMin, rtpMax := nextRTPRange()
		cfg := fmt.Sprintf(`node: node%d
log: {level: info, format: json}
sip:
  listen: ["udp:127.0.0.1:%d"]
  rtp_bind_addr: 127.0.0.1
  rtp_port_min: %d
  rtp_port_max: %d
  drain_time: 20s
%s
store: {driver: postgres, dsn_env: HOTLINE_DATABASE_URL, heartbeat: 500ms, node_timeout: 3s}
recording: {dir: %s, calls: false}
dialog: %s
ivr: %s
api: {listen: "127.0.0.1:%d", tokens: [{name: ops, role: supervisor, token_env: HOTLINE_TEST_TOKEN}]}
webrtc: {listen: "127.0.0.1:%d", loopback_only: true}
%s
`, k, port, rtpMin, rtpMax, indent(cc.SIP), filepath.Join(nd, "rec"), cmp.Or(cc.Dialog, "{brain: menu}"), cmp.Or(cc.IVR, "{menu_timeout: 300s, menu_repeats: 1, speech: false}"),
			api, freePort(t), cc.Extra)
		if err := os.WriteFile(filepath.Join(nd, "hotline.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, &clusterNode{node: launchHotline(t, nd, port), name: fmt.Sprintf("node%d", k),
			api: fmt.Sprintf("http://127.0.0.1:%d", api)})
		fmt.Fprintf(&list, "1 sip:127.0.0.1:%d 0 0 node=node%d\n", port, k)
	}
	dsList := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(dsList, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	front := freePort(t)
	c.front = &node{SIPPort: front}
	c.ctl = "unix:" + filepath.Join(dir, "kamailio_ctl")
	var out logbuf.Buffer
	cmd := exec.Command(kamailio, "-DD", "-E", "-f", filepath.Join(repoRoot, "deploy", "kamailio.cfg"), "-Y", dir,
		"-A", fmt.Sprintf("LISTEN=udp:127.0.0.1:%d", front), "-A", fmt.Sprintf("DS_LIST=%q", dsList),
		"-A", "DS_PING_S=1", "-A", "CHILDREN=1", "-A", fmt.Sprintf("CTL_SOCKET=%q", c.ctl))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", tail(out.String(), 6000))
		}
	})
	// Up once its control socket answers and every node is listed active.
	if !waitFor(15*time.Second, func() bool {
		flags := c.dispatcher()
		for _, cn := range c.nodes {
			if !strings.HasPrefix(flags[cn.SIPPort], "A") {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("kamailio did not come up with %d active nodes: %v\n%s", n, c.dispatcher(), out.String())
	}
	return c
}

// dispatcher is Kamailio's view of the nodes: their port → flags (AP is
// active and probed, IP inactive).
func (c *cluster) dispatcher() map[int]string {
	out, err := exec.Command("kamcmd", "-s", c.ctl, "dispatcher.list").CombinedOutput()
	if err != nil {
		return nil
	}
	flags := map[int]string{}
	port := 0
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if u, ok := strings.CutPrefix(line, "URI: sip:127.0.0.1:"); ok {
			port, _ = strconv.Atoi(u)
		}
		if f, ok := strings.CutPrefix(line, "FLAGS: "); ok && port != 0 {
			flags[port] = f
		}
	}
	return flags
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// load places calls through Kamailio with test/sipp/uac_cluster.xml: total
// calls at rate a second, each holding hold before the caller's BYE.
func (c *cluster) load(calls, rate int, hold time.Duration) *sippProc {
	c.t.Helper()
	return startSIPp(c.t, c.front, sippRun{Scenario: "uac_cluster.xml", Timeout: time.Duration(calls/rate)*time.Second + hold + 30*time.Second,
		Args: []string{"-m", strconv.Itoa(calls), "-l", strconv.Itoa(calls), "-r", strconv.Itoa(rate), "-d", strconv.Itoa(int(hold.Milliseconds()))}})
}

var (
	sippCounter = regexp.MustCompile(`(Successful|Failed) call\s*\|\s*\d+\s*\|\s*(\d+)`)
	sippCallID  = regexp.MustCompile(`Call-Id:? '?([0-9]+-[0-9]+@[0-9.]+)`)
)

// outcome is how many of a SIPp run's calls succeeded and failed, and the
// Call-IDs of the failed ones.
func outcome(t *testing.T, r sippResult) (ok, failed int, failedIDs map[string]bool) {
	t.Helper()
	for _, m := range sippCounter.FindAllStringSubmatch(r.Out, -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "Successful" {
			ok = n
		} else {
			failed = n
		}
	}
	failedIDs = map[string]bool{}
	for _, m := range sippCallID.FindAllStringSubmatch(r.Errors, -1) {
		failedIDs[m[1]] = true
	}
	return ok, failed, failedIDs
}

// callIDs are the Call-IDs of the calls n answered.
func (n *clusterNode) callIDs() map[string]bool {
	ids := map[string]bool{}
	for _, rec := range n.logs.find("call answered", nil) {
		ids[fmt.Sprint(rec["call_id"])] = true
	}
	return ids
}

// open is how many calls n has answered and not yet ended.
func (n *clusterNode) open() int {
	return len(n.logs.find("call answered", nil)) - len(n.logs.find("call ended", nil))
}

// perNode counts the call records by node, from the shared database.
func (c *cluster) perNode(where string) map[string]int {
	c.t.Helper()
	rows, err := c.db.QueryContext(c.t.Context(), `SELECT node, count(*) FROM calls `+where+` GROUP BY node`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var node string
		var n int
		if err := rows.Scan(&node, &n); err != nil {
			c.t.Fatal(err)
		}
		out[node] = n
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// apiGet decodes the supervisor's GET of path on n's API into v.
func (n *clusterNode) apiGet(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", n.api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %s", n.name, path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// agent is the agent's state in n's API, with the reason when there is
// one: "not_ready: break".
func (n *clusterNode) agent(t *testing.T, id string) string {
	t.Helper()
	var agents struct {
		Agents []struct{ ID, State, Reason string }
	}
	n.apiGet(t, "/api/v1/agents", &agents)
	for _, a := range agents.Agents {
		if a.ID == id {
			return strings.TrimSuffix(a.State+": "+a.Reason, ": ")
		}
	}
	return ""
}

// metrics is n's Prometheus exposition.
func (n *clusterNode) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(n.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apiPost posts the JSON body to path on n's API as the supervisor.
func (n *clusterNode) apiPost(t *testing.T, path, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", n.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s POST %s: %s", n.name, path, resp.Status)
	}
}

// apiCalls lists the call records through n's API: node → count.
func (c *cluster) apiCalls(n *clusterNode) map[string]int {
	c.t.Helper()
	var page struct {
		Calls []struct {
			Node string `json:"node"`
		} `json:"calls"`
	}
	n.apiGet(c.t, "/api/v1/calls?limit=1000", &page)
	out := map[string]int{}
	for _, call := range page.Calls {
		out[call.Node]++
	}
	return out
}

// TestCluster: three nodes behind Kamailio on one PostgreSQL. SIPp's calls
// are spread over the nodes; a node drained in the middle of a run loses
// no call (Kamailio sees its OPTIONS answered 503 and sends it nothing
// new, its calls finish); a node killed with SIGKILL loses only its own
// calls in progress, the others keep serving, and a surviving node closes
// the dead node's open records. Every node's API shows the whole
// cluster's records.
func TestCluster(t *testing.T) {
	needRoot(t)
	c := startCluster(t, 3, clusterConfig{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]

	// Spread: round robin over three nodes.
	r := c.load(24, 6, 2*time.Second).wait(t)
	if ok, failed, _ := outcome(t, r); ok != 24 || failed != 0 {
		t.Fatalf("spread: %d calls succeeded, %d failed, want 24 and 0\n%s\n%s", ok, failed, r.Errors, tail(r.Out, 3000))
	}
	spread := c.perNode("")
	t.Logf("calls per node, all up: %v", spread)
	for _, cn := range c.nodes {
		if spread[cn.name] < 6 {
			t.Errorf("%s took %d of 24 calls, want a fair share (8 each): %v", cn.name, spread[cn.name], spread)
		}
		// Every node's API shows the whole cluster's records and nodes.
		if got := c.apiCalls(cn); fmt.Sprint(got) != fmt.Sprint(spread) {
			t.Errorf("%s's API lists calls by node %v, the database holds %v", cn.name, got, spread)
		}
		var nodes struct {
			Nodes []struct{ Name string }
		}
		cn.apiGet(t, "/api/v1/nodes", &nodes)
		if fmt.Sprint(nodes.Nodes) != "[{node1} {node2} {node3}]" {
			t.Errorf("%s's API lists the nodes %v", cn.name, nodes.Nodes)
		}
		if m := cn.metrics(t); !strings.Contains(m, "\nhotline_cluster_nodes 3\n") || !strings.Contains(m, "\nhotline_calls_total{disposition=\"completed\"}") {
			t.Errorf("%s's metrics lack the cluster's 3 nodes or its calls", cn.name)
		}
	}

	// Drain node2 once it has calls in progress: not one call fails.
	before := len(n2.callIDs())
	p := c.load(30, 5, 3*time.Second)
	if !waitFor(10*time.Second, func() bool { return n2.open() >= 2 && len(n2.callIDs()) >= before+2 }) {
		t.Fatal("node2 took no calls of the second run")
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); n2.Stop() }()
	n2.logs.must(t, "sip draining", nil, 5*time.Second)
	if !waitFor(5*time.Second, func() bool { return strings.HasPrefix(c.dispatcher()[n2.SIPPort], "I") }) {
		t.Errorf("Kamailio still sends calls to the draining node2: %v", c.dispatcher())
	}
	r = p.wait(t)
	if ok, failed, _ := outcome(t, r); ok != 30 || failed != 0 {
		t.Errorf("drain: %d calls succeeded, %d failed, want 30 and 0\n%s\n%s", ok, failed, r.Errors, tail(r.Out, 3000))
	}
	<-stopped
	n2.logs.none(t, "sip drain time over, hanging up", nil)

	// Kill node3 with calls in progress: only its calls fail.
	p = c.load(30, 5, 5*time.Second)
	if !waitFor(10*time.Second, func() bool { return n3.open() >= 2 }) {
		t.Fatal("node3 took no calls of the third run")
	}
	n3.Kill()
	lost := n3.callIDs()
	r = p.wait(t)
	ok, failed, failedIDs := outcome(t, r)
	t.Logf("kill: %d calls succeeded, %d failed; node3 had answered %d", ok, failed, len(lost))
	if failed == 0 || ok+failed != 30 {
		t.Errorf("kill: %d succeeded, %d failed of 30: the killed node's calls in progress should fail", ok, failed)
	}
	for id := range failedIDs {
		if !lost[id] {
			t.Errorf("call %s failed but was not on the killed node3", id)
		}
	}
	if len(failedIDs) != failed {
		t.Errorf("%d calls failed, SIPp's error log names %d: %v", failed, len(failedIDs), failedIDs)
	}

	// A surviving node takes node3 for dead and closes its records.
	n1.logs.must(t, "node dead: its open calls closed as interrupted", map[string]any{"dead_node": "node3"}, 15*time.Second)
	if m := n1.metrics(t); !strings.Contains(m, "\nhotline_cluster_nodes_reaped_total 1\n") {
		t.Error("node1's metrics do not count the dead node it reaped")
	}
	if open := c.perNode("WHERE ended_at IS NULL"); len(open) != 0 {
		t.Errorf("calls left open after the run: %v", open)
	}
	interrupted := c.perNode("WHERE disposition = 'interrupted'")
	if interrupted["node3"] < failed || len(interrupted) != 1 {
		t.Errorf("interrupted calls by node: %v, want node3's %d and no other", interrupted, failed)
	}
	t.Logf("calls per node over the test: %v", c.perNode(""))

}

// TestClusterAgentAcrossNodes: alice's phone registers with node2; a
// caller on node1 asks for a person and is put through to her:
// node1 claims alice in the shared store, rings her phone where it
// registered and bridges her leg with the caller's. node2 never offers
// her the call, and once she is free again the claim is released. Then a
// caller waits in node1's queue while alice is on a break, node1 is
// killed, and node2 closes the waiting caller's record.
func TestClusterAgentAcrossNodes(t *testing.T) {
	needRoot(t)
	need(t, "flite")
	c := startCluster(t, 2, clusterConfig{
		SIP:    "agents: [{user: alice, password_env: HOTLINE_TEST_AGENT_PW}]",
		Dialog: "{brain: rules}",
		IVR:    "{speech: true}",
		// The sample dialog's other queues are there too: it may transfer to them.
		Extra: "routing: {wrap_up: 1s, agents: [{id: alice}], queues: [{name: general, ring_timeout: 10s}, {name: cards}, " +
			"{name: accounts}, {name: loans}, {name: fraud}, {name: complaints}, {name: crisis}]}",
	})
	// Alice's phone registers through Kamailio: n2 is the node it reached,
	// n1 the other, where the callers come.
	phonePort := freePort(t)
	registerPhone(t, c.front, "alice", phonePort)
	var n1, n2 *clusterNode
	if !waitFor(5*time.Second, func() bool {
		for i, n := range c.nodes {
			if len(n.logs.find("agent phone", map[string]any{"agent": "alice", "state": "available"})) > 0 {
				n1, n2 = c.nodes[1-i], n
				return true
			}
		}
		return false
	}) {
		t.Fatal("alice's REGISTER through Kamailio reached no node")
	}
	n1.logs.must(t, "agent state from the cluster", map[string]any{"agent": "alice", "state": "available"}, 5*time.Second)
	phone := startSIPp(t, n2.node, sippRun{Scenario: "uas_answer.xml", Timeout: 90 * time.Second, SIPPort: phonePort})

	caller := startSpokenCall(t, n1.node, "slt", []string{"i want to speak to an agent", "hello my card was stolen yesterday"},
		[]time.Duration{4 * time.Second, 16 * time.Second})
	// While she talks with the caller, node2's supervisors see her busy
	// through the other node.
	if !waitFor(20*time.Second, func() bool { return n2.agent(t, "alice") == "not_ready: on a call through another node" }) {
		t.Error("node2 never showed alice busy with node1's caller")
	}
	sr := caller.sipp.wait(t)
	caller.capt.stop(t)
	sr.expectSuccess(t)
	pr := phone.wait(t)
	pr.expectSuccess(t) // her leg ended with the caller's BYE

	call := map[string]any{"call_id": sr.CallID}
	answeredAcross(t, n1, n2, call)
	if !pr.received("INVITE", "X-Hotline-Call: "+sr.CallID) {
		t.Errorf("alice's phone got no INVITE naming the call:\n%s", tail(pr.Messages, 3000))
	}
	n2.logs.none(t, "agent connected", nil)

	// Free again after her wrap-up: the claim is gone, node2 counts her
	// available again.
	if !waitFor(10*time.Second, func() bool {
		var n int
		return c.db.QueryRowContext(t.Context(), `SELECT count(*) FROM agent_claims`).Scan(&n) == nil && n == 0
	}) {
		t.Error("alice's claim was not released after her call")
	}
	var agent, disposition string
	waitFor(5*time.Second, func() bool { // the record closes as the call's handler returns
		err := c.db.QueryRowContext(t.Context(), `SELECT agent, disposition FROM calls WHERE call_id = $1`, sr.CallID).Scan(&agent, &disposition)
		return err == nil && disposition != ""
	})
	if agent != "alice" || disposition != "completed" {
		t.Errorf("stored call: agent %q, %s; want alice, completed", agent, disposition)
	}

	// Alice takes a break on node2, which node1 learns: the next caller on
	// node1 waits in its queue. Node1 dies; node2 closes the record of the
	// caller it held.
	if !waitFor(10*time.Second, func() bool { return n2.agent(t, "alice") == "available" }) {
		t.Fatal("node2 never showed alice available again")
	}
	n2.apiPost(t, "/api/v1/agents/alice/state", `{"state": "not_ready", "reason": "break"}`)
	n1.logs.must(t, "agent state from the cluster", map[string]any{"agent": "alice", "state": "offline"}, 5*time.Second)
	waiting := startSpokenCall(t, n1.node, "slt", []string{"i want to speak to an agent"}, []time.Duration{4 * time.Second})
	queued := waiting.sipp.res.CallID
	n1.logs.must(t, "waiting for an agent", map[string]any{"call_id": queued}, 20*time.Second)
	n1.Kill()
	n2.logs.must(t, "node dead: its open calls closed as interrupted", map[string]any{"dead_node": n1.name}, 15*time.Second)
	var queue string
	if err := c.db.QueryRowContext(t.Context(), `SELECT c.disposition, t.queue FROM calls c JOIN transfers t ON t.call = c.id WHERE c.call_id = $1`,
		queued).Scan(&disposition, &queue); err != nil {
		t.Fatal(err)
	}
	if disposition != "interrupted" || queue != "general" {
		t.Errorf("the queued caller's record: %s, transferred to %q; want interrupted, general", disposition, queue)
	}
	// The caller's SIPp, whose node is gone, ends with the test.
}

// TestClusterBrowserAgentAcrossNodes: alice signs in on node2's agent
// desktop, whose browser phone is her only phone, and presses Ready; a
// caller on node1 asks for a person. node1 claims her and dials the phone
// node2 published for her, a SIP address of node2's naming her; node2
// rings her browser phone with the screen pop, answers node1 when she
// accepts, and bridges the two legs: each hears the other until the
// caller hangs up. node1's record names her; once she is free again the
// claim is released. An INVITE to her from outside the cluster is refused.
func TestClusterBrowserAgentAcrossNodes(t *testing.T) {
	needRoot(t)
	need(t, "flite")
	browserDir := needBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := startCluster(t, 2, clusterConfig{
		SIP:    "agents: [{user: alice, password_env: HOTLINE_TEST_AGENT_PW}]",
		Dialog: "{brain: rules}",
		IVR:    "{speech: true}",
		Extra: "routing: {wrap_up: 1s, agents: [{id: alice}], queues: [{name: general, ring_timeout: 20s}, {name: cards}, " +
			"{name: accounts}, {name: loans}, {name: fraud}, {name: complaints}, {name: crisis}]}",
	})
	n1, n2 := c.nodes[0], c.nodes[1]

	page := startPhonePage(t, ctx, n2.api, browserDir)
	n2.logs.must(t, "agent's browser phone connected", map[string]any{"agent": "alice"}, 30*time.Second)
	waitAgentState(t, n2.api, "alice", "available", 20*time.Second)
	n1.logs.must(t, "agent state from the cluster", map[string]any{"agent": "alice", "state": "available"}, 10*time.Second)
	var contact string
	if err := c.db.QueryRowContext(t.Context(), `SELECT contact FROM agent_phones WHERE agent = 'alice' AND node = 'node2'`).Scan(&contact); err != nil ||
		contact != fmt.Sprintf("sip:alice@127.0.0.1:%d", n2.SIPPort) {
		t.Fatalf("alice's browser phone in agent_phones: %q, %v", contact, err)
	}

	// Not from a node: refused, her phone does not ring.
	if code := forgedAgentInvite(t, n2.node, "alice"); code != 403 {
		t.Errorf("an INVITE to alice from outside the cluster: %d, want 403", code)
	}
	// The nodes share a secret (the harness's HOTLINE_NODE_SECRET): node2
	// rings alice only for INVITEs node1 signed.
	n2.logs.none(t, "cluster: no shared secret (store.node_secret_env): another node's INVITE for a browser agent is admitted by its source address alone", nil)
	n2.logs.must(t, "agent leg refused: not from a node of the cluster", nil, 5*time.Second)

	caller := startSpokenCall(t, n1.node, "slt", []string{"i want to speak to an agent", "hello my card was stolen yesterday"},
		[]time.Duration{4 * time.Second, 20 * time.Second})
	// node2 shows her on the call, as for a call of its own.
	if !waitFor(40*time.Second, func() bool { return n2.agent(t, "alice") == "on_call" }) {
		t.Errorf("node2 never showed alice on the call: %s", n2.agent(t, "alice"))
	}
	sr := caller.sipp.wait(t)
	callerPkts := caller.capt.stop(t)
	sr.expectSuccess(t)
	run := page.wait(t, ctx)

	call := map[string]any{"call_id": sr.CallID}
	connected := answeredAcross(t, n1, n2, call)
	n2.logs.must(t, "agent connected for another node's caller", call, time.Second)
	n2.logs.must(t, "agent call for another node ended", call, 5*time.Second)
	n2.logs.none(t, "agent connected", nil)

	if !run.Ringing.AcceptEnabled || run.Ringing.Queue != "general" || run.Ringing.Summary == "" || run.Ringing.Summary == "No summary." {
		t.Errorf("ringing page: %+v", run.Ringing)
	}
	t.Logf("screen pop: caller %q, queue %q, summary %q", run.Ringing.Caller, run.Ringing.Queue, run.Ringing.Summary)
	if run.Ended != "idle" {
		t.Errorf("alice's phone after the caller hung up: %q, want idle", run.Ended)
	}
	run.heardCaller(t)
	callerHeardAgent(t, n1.logs.must(t, "call answered", call, time.Second), sr, callerPkts, logTime(t, connected))

	if !waitFor(10*time.Second, func() bool {
		var n int
		return c.db.QueryRowContext(t.Context(), `SELECT count(*) FROM agent_claims`).Scan(&n) == nil && n == 0
	}) {
		t.Error("alice's claim was not released after her call")
	}
	var agent, disposition, node string
	waitFor(5*time.Second, func() bool {
		err := c.db.QueryRowContext(t.Context(), `SELECT agent, disposition, node FROM calls WHERE call_id = $1`, sr.CallID).Scan(&agent, &disposition, &node)
		return err == nil && disposition != ""
	})
	if agent != "alice" || disposition != "completed" || node != n1.name {
		t.Errorf("stored call: agent %q, %s, on %s; want alice, completed, on %s", agent, disposition, node, n1.name)
	}
}

// forgedAgentInvite sends n an INVITE for user as another node would, but
// from an address of no node, and returns its final status.
func forgedAgentInvite(t *testing.T, n *node, user string) int {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	uri := siplib.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: n.SIPPort}
	req := siplib.NewRequest(siplib.INVITE, uri)
	req.AppendHeader(siplib.NewHeader("Via", fmt.Sprintf("SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport", port, siplib.GenerateTagN(12))))
	req.AppendHeader(siplib.NewHeader("From", fmt.Sprintf("<sip:hotline@127.0.0.1:%d>;tag=%s", port, siplib.GenerateTagN(8))))
	req.AppendHeader(siplib.NewHeader("To", "<"+uri.String()+">"))
	req.AppendHeader(siplib.NewHeader("Call-ID", siplib.GenerateTagN(16)))
	req.AppendHeader(siplib.NewHeader("CSeq", "1 INVITE"))
	req.AppendHeader(siplib.NewHeader("Contact", fmt.Sprintf("<sip:hotline@127.0.0.1:%d>", port)))
	req.AppendHeader(siplib.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(siplib.NewHeader("X-Hotline-Call", "forged"))
	req.AppendHeader(siplib.NewHeader("Content-Length", "0"))
	if _, err := conn.WriteToUDP([]byte(req.String()), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: n.SIPPort}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("forged INVITE: %v", err)
		}
		msg, err := siplib.ParseMessage(buf[:k])
		if res, ok := msg.(*siplib.Response); err == nil && ok && res.StatusCode >= 200 {
			return res.StatusCode
		}
	}
}

// TestClusterScript: deploy/cluster.sh brings up PostgreSQL, two nodes and
// Kamailio, a call through Kamailio succeeds and is recorded, status shows
// them all, a drained node is marked down by Kamailio, and down stops
// everything.
func TestClusterScript(t *testing.T) {
	needRoot(t)
	need(t, "kamailio")
	// PostgreSQL runs as the postgres user: the folder must be reachable.
	dir, err := os.MkdirTemp("", "hotline-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Node K takes NODE_PORT+K and API_PORT+K: ports next to free ones,
	// most likely free too.
	front, nodePort, apiPort, pgPort := freePort(t), freePort(t), freePort(t), freePort(t)
	env := append(os.Environ(), "CLUSTER_DIR="+dir, fmt.Sprintf("SIP_PORT=%d", front), fmt.Sprintf("NODE_PORT=%d", nodePort),
		fmt.Sprintf("API_PORT=%d", apiPort), fmt.Sprintf("PG_PORT=%d", pgPort), "HOTLINE_BIN="+hotlineBin,
		"RECORD_CALLS=false", "NODE_YAML=dialog: {brain: menu}\nivr: {menu_timeout: 60s, speech: false}")
	script := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(repoRoot, "deploy", "cluster.sh"), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { script("down") })
	script("up", "2")

	r := startSIPp(t, &node{SIPPort: front}, sippRun{Scenario: "uac_cluster.xml", Timeout: 30 * time.Second,
		Args: []string{"-d", "1000"}}).wait(t)
	r.expectSuccess(t)
	status := script("status")
	for _, want := range []string{"node1: running", "node2: running", "postgres: running", "kamailio: running", "FLAGS: AP"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	db, err := sql.Open("pgx", fmt.Sprintf("postgres://hotline@127.0.0.1:%d/hotline?sslmode=disable", pgPort))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM calls WHERE call_id = $1`, r.CallID).Scan(&n); err != nil || n != 1 {
		t.Errorf("the call's record: %d, %v", n, err)
	}

	script("drain", "2")
	if !waitFor(10*time.Second, func() bool { return strings.Contains(script("status"), "node2: stopped") }) {
		t.Errorf("node2 did not stop:\n%s", script("status"))
	}
	if !waitFor(10*time.Second, func() bool { return strings.Contains(script("status"), "FLAGS: IP") }) {
		t.Errorf("Kamailio still has every node up after node2's drain:\n%s", script("status"))
	}
	script("down")
	if s := script("status"); strings.Contains(s, "running") {
		t.Errorf("still running after down:\n%s", s)
	}
}

// answeredAcross checks that call, on caller's node, ended after alice
// answered it on her phone registered with phone's node, and returns the
// caller's node's record of her answer.
func answeredAcross(t *testing.T, caller, phone *clusterNode, call map[string]any) map[string]any {
	t.Helper()
	caller.logs.must(t, "call ended", call, 10*time.Second)
	caller.logs.none(t, "call flow failed", call)
	caller.logs.must(t, "ringing an agent's phone registered with another node", map[string]any{"agent": "alice", "phone_node": phone.name}, time.Second)
	connected := caller.logs.must(t, "agent connected", call, time.Second)
	if connected["agent"] != "alice" {
		t.Errorf("connected %v", connected)
	}
	return connected
}
