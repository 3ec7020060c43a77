package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashEnv, when set, makes the test binary the child of TestCrashSQLite:
// it writes turns to the SQLite database the variable names until killed.
const crashEnv = "HOTLINE_STORE_CRASH_DB"

const crashNode = "crash-node"

// TestCrashSQLite kills a process writing turns (SIGKILL: no clean-up of
// any kind) and checks that every turn it was told was written is there,
// and that the next start closes the call as interrupted.
func TestCrashSQLite(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSQLite$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 40
	var (
		call   int64
		acked  int // the last turn the child saw committed
		killed bool
	)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "call":
			call = n
		case "turn":
			if int(n) != acked+1 {
				t.Errorf("child reported turn %d after %d", n, acked)
			}
			acked = int(n)
		}
		if acked >= killAfter && !killed {
			// The child is in the middle of its next write.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before the kill (%v), %d turns:\n%s", err, acked, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v\n%s", err, stderr.String())
	}
	if call == 0 {
		t.Fatal("child reported no call")
	}

	cfg := DefaultConfig()
	cfg.Path = path
	s := open(t, cfg)
	d := must(s.Call(ctx, call))(t)
	// Every acknowledged turn is there; the one being written at the kill
	// is there entirely or not at all.
	if len(d.Turns) < acked || len(d.Turns) > acked+1 {
		t.Fatalf("%d turns after the kill, %d acknowledged", len(d.Turns), acked)
	}
	if d.TurnCount != len(d.Turns) {
		t.Errorf("turn count %d, %d turns: the counter and the rows disagree", d.TurnCount, len(d.Turns))
	}
	for i, tu := range d.Turns {
		if tu.Seq != i+1 || tu.Text != fmt.Sprintf("turn %d", i+1) || len(tu.Emotion) == 0 {
			t.Errorf("turn %d: %+v", i+1, tu)
		}
	}
	if !d.Open() {
		t.Fatalf("call closed before CloseInterrupted: %+v", d.Call)
	}
	closed := must(s.CloseInterrupted(ctx, crashNode))(t)
	if len(closed) != 1 || closed[0] != call {
		t.Fatalf("CloseInterrupted closed %v, want [%d]", closed, call)
	}
	d = must(s.Call(ctx, call))(t)
	if d.Disposition != DispositionInterrupted || d.HangupSide != SideSystem || d.EndedAt.Before(d.Turns[len(d.Turns)-1].At) {
		t.Errorf("after CloseInterrupted: %+v", d.Call)
	}
	t.Logf("killed after %d acknowledged turns; %d on disk", acked, len(d.Turns))
}

// crashChild writes turns until it is killed; it reports each committed
// turn on stdout.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(context.Background(), cfg)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	call, err := s.CallStarted(ctx, CallStart{CallID: "crash@test", Node: crashNode, From: "+1555"})
	if err != nil {
		fail(err)
	}
	if err := s.CallAnswered(ctx, call, time.Time{}); err != nil {
		fail(err)
	}
	fmt.Printf("call %d\n", call)
	for i := 1; i <= 100000; i++ {
		seq, err := s.AddTurn(ctx, call, Turn{Speaker: SpeakerCaller, Text: fmt.Sprintf("turn %d", i),
			Emotion: []byte(`{"label":"calm","arousal":0.4}`), Duration: 10 * time.Millisecond})
		if err != nil {
			fail(err)
		}
		fmt.Printf("turn %d\n", seq) // os.Stdout is unbuffered: written when printed
	}
	os.Exit(3) // never killed: the parent reports it
}
