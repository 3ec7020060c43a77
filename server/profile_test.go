package server

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// A caller in the customer directory reaches the dialog with their name,
// tier and advisor; a bad row is left out without costing the others.
func TestCallerProfileFromTheDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customers.csv")
	csv := "number,name,tier,advisor\n+1 (555) 010-4477,Lena Park,platinum,alice\nnot a number,Bad Row,gold,\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := loadDirectory(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{directory: d}
	want := dialog.Profile{Number: "+15550104477", Name: "Lena Park", Tier: "platinum", Advisor: "alice"}
	if got := s.profile("+15550104477"); got != want {
		t.Errorf("profile %+v, want %+v", got, want)
	}
	if got := s.profile("+15550000000"); got != (dialog.Profile{Number: "+15550000000"}) || got.VIP() {
		t.Errorf("unknown caller's profile %+v", got)
	}
	if _, err := loadDirectory(filepath.Join(t.TempDir(), "missing.csv"), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a missing directory file did not stop start-up")
	}
}

// An agent signs in to the desktop with their phone's password.
func TestAgentLogin(t *testing.T) {
	t.Setenv("HOTLINE_TEST_ALICE_PW", "alice-phone-secret")
	s := &Server{}
	s.cfg.SIP.Agents = []sip.AgentConfig{{User: "alice", PasswordEnv: "HOTLINE_TEST_ALICE_PW"},
		{User: "bob", PasswordEnv: "HOTLINE_TEST_BOB_PW_UNSET"}}
	for _, c := range []struct {
		agent, password string
		ok              bool
	}{
		{"alice", "alice-phone-secret", true},
		{"alice", "wrong", false},
		{"alice", "", false},
		{"bob", "", false}, // no password in the environment: no sign-in
		{"mallory", "alice-phone-secret", false},
	} {
		if got := s.agentLogin(c.agent, c.password); got != c.ok {
			t.Errorf("login %s/%q: %v, want %v", c.agent, c.password, got, c.ok)
		}
	}
}

// A dialog that may transfer to a queue routing lacks does not start.
func TestUnknownQueuesStopStartUp(t *testing.T) {
	if err := knownQueues([]string{"general", "cards"}, []string{"general", "cards", "loans"}); err != nil {
		t.Errorf("known queues: %v", err)
	}
	err := knownQueues([]string{"general", "vip", "fraud", "vip"}, []string{"general"})
	if err == nil || !strings.Contains(err.Error(), "queues vip, fraud are not in routing.queues or routing.external") {
		t.Errorf("unknown queues: %v", err)
	}
}

// An agent hands their own call on to another queue, once; nobody else's.
func TestTransferCall(t *testing.T) {
	s := &Server{}
	s.cfg.Routing = routing.DefaultConfig()
	rec := &callRecord{}
	alice := "alice"
	rec.servedBy.Store(&alice)
	live, gone := s.live.add("c1", rec)
	defer gone()
	_, gone2 := s.live.add("c2", &callRecord{})
	defer gone2()
	for _, c := range []struct {
		call, agent, queue string
		want               error
	}{
		{"c1", "bob", "cards", api.ErrNotYours},
		{"c1", "alice", "nowhere", store.ErrInvalid},
		{"c9", "", "cards", api.ErrNoSuchCall},
		{"c2", "", "cards", api.ErrNotTransferable},
		{"c1", "alice", "cards", nil},
		{"c1", "", "loans", api.ErrNotTransferable}, // one transfer at a time
	} {
		if err := s.TransferCall(c.call, c.agent, c.queue); !errors.Is(err, c.want) {
			t.Errorf("transfer %s by %q to %s: %v, want %v", c.call, c.agent, c.queue, err, c.want)
		}
	}
	if q := <-live.transfer; q != "cards" {
		t.Errorf("the call was handed to %q", q)
	}
}
