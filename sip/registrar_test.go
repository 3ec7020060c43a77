package sip

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

const agentPassword = "Ag3nt-pa55"

// agentConfig is testConfig with agents 1001 and 1002, both with
// agentPassword.
func agentConfig(t testing.TB) Config {
	t.Setenv("HOTLINE_TEST_AGENT_PASSWORD", agentPassword)
	cfg := testConfig()
	cfg.Agents = []AgentConfig{
		{User: "1001", PasswordEnv: "HOTLINE_TEST_AGENT_PASSWORD"},
		{User: "1002", PasswordEnv: "HOTLINE_TEST_AGENT_PASSWORD"},
	}
	return cfg
}

// agent is a SIP phone that registers with the server under test.
type agent struct {
	*caller
	s        *testServer
	user     string
	password string
	callID   string
	cseq     uint32
}

func newAgent(t testing.TB, s *testServer, user, password string, setup func(*caller, *sipgo.Server)) *agent {
	t.Helper()
	c := newUA(t, "udp", "127.0.0.1", setup)
	return &agent{caller: c, s: s, user: user, password: password, callID: siplib.GenerateTagN(16)}
}

// contactURI is the phone's own contact, where it takes INVITEs.
func (a *agent) contactURI() string {
	u := a.contact.Address
	u.User = a.user
	return u.String()
}

// register sends a REGISTER with these Contact header values (nil: the
// phone's own contact; empty: none, a query) and Expires ("" for none),
// answering a challenge with the phone's password.
func (a *agent) register(ctx context.Context, contacts []string, expires string) *siplib.Response {
	a.t.Helper()
	req := a.newRegister(contacts, expires)
	res, err := a.cli.Do(ctx, req)
	if err != nil {
		a.t.Fatalf("register: %v", err)
	}
	if res.StatusCode == 401 && a.password != "" {
		res, err = a.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: a.user, Password: a.password})
		if err != nil {
			a.t.Fatalf("register with credentials: %v", err)
		}
		a.cseq = req.CSeq().SeqNo
	}
	return res
}

// newRegister builds the phone's next REGISTER.
func (a *agent) newRegister(contacts []string, expires string) *siplib.Request {
	ap := a.s.Addr("udp")
	req := siplib.NewRequest(siplib.REGISTER, siplib.Uri{Scheme: "sip", Host: ap.Addr().String(), Port: int(ap.Port())})
	aor := siplib.Uri{Scheme: "sip", User: a.user, Host: "hotline.test"}
	from := &siplib.FromHeader{Address: aor, Params: siplib.NewParams()}
	from.Params.Add("tag", siplib.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&siplib.ToHeader{Address: aor, Params: siplib.NewParams()})
	callID := siplib.CallIDHeader(a.callID)
	req.AppendHeader(&callID)
	a.cseq++
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: a.cseq, MethodName: siplib.REGISTER})
	if contacts == nil {
		contacts = []string{"<" + a.contactURI() + ">"}
	}
	for _, c := range contacts {
		req.AppendHeader(siplib.NewHeader("Contact", c))
	}
	if expires != "" {
		req.AppendHeader(siplib.NewHeader("Expires", expires))
	}
	req.AppendHeader(siplib.NewHeader("User-Agent", "test-phone"))
	return req
}

// contactExpires maps each Contact of a 200 to its expires parameter.
func contactExpires(t *testing.T, res *siplib.Response) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range res.GetHeaders("Contact") {
		c := h.(*siplib.ContactHeader)
		v, _ := c.Params.Get("expires")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("contact %s without expires", c)
		}
		out[c.Address.String()] = n
	}
	return out
}

// events collects registration events.
func collectEvents(s *testServer) chan RegistrationEvent {
	ch := make(chan RegistrationEvent, 64)
	s.OnRegistration(func(ev RegistrationEvent) { ch <- ev })
	return ch
}

func nextEvent(t *testing.T, ch chan RegistrationEvent, user string, contacts int) RegistrationEvent {
	t.Helper()
	select {
	case ev := <-ch:
		if ev.User != user || len(ev.Bindings) != contacts {
			t.Fatalf("event %s with %d contacts, want %s with %d", ev.User, len(ev.Bindings), user, contacts)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no registration event for %s with %d contacts", user, contacts)
		return RegistrationEvent{}
	}
}

// TestRegister walks an agent's phone through digest authentication,
// several contacts, refresh, expiry bounds and unregistration, checking the
// 200's contact list, Contacts and the change events at each step.
func TestRegister(t *testing.T) {
	cfg := agentConfig(t)
	cfg.RegisterMinExpires, cfg.RegisterMaxExpires = 60*time.Second, time.Hour
	s := newTestServer(t, cfg, func(context.Context, *Call) {})
	events := collectEvents(s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Without credentials, with a wrong password, for an unknown user: 401.
	if res := newAgent(t, s, "1001", "", nil).register(ctx, nil, "120"); res.StatusCode != 401 ||
		!strings.Contains(headerValue(res, "WWW-Authenticate"), `realm="Hotline"`) {
		t.Fatalf("no credentials: %d %q", res.StatusCode, headerValue(res, "WWW-Authenticate"))
	}
	if res := newAgent(t, s, "1001", "guess", nil).register(ctx, nil, "120"); res.StatusCode != 401 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if res := newAgent(t, s, "9999", agentPassword, nil).register(ctx, nil, "120"); res.StatusCode != 401 {
		t.Fatalf("unknown agent: %d", res.StatusCode)
	}
	if got := s.Contacts("1001"); len(got) != 0 {
		t.Fatalf("refused phones registered: %+v", got)
	}

	a := newAgent(t, s, "1001", agentPassword, nil)
	res := a.register(ctx, nil, "120")
	if res.StatusCode != 200 {
		t.Fatalf("right password: %d", res.StatusCode)
	}
	if exp := contactExpires(t, res)[a.contactURI()]; exp < 119 || exp > 120 {
		t.Fatalf("200 lists %v, want %s with 120 s", contactExpires(t, res), a.contactURI())
	}
	ev := nextEvent(t, events, "1001", 1)
	b := ev.Bindings[0]
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(a.contact.Address.Port))
	if b.Contact != a.contactURI() || b.Source != want || b.Transport != "udp" || b.UserAgent != "test-phone" {
		t.Errorf("binding %+v", b)
	}
	if got := s.Contacts("1001"); len(got) != 1 || got[0] != b {
		t.Errorf("Contacts = %+v, want the event's binding", got)
	}

	// A refresh changes the expiry, not the contacts: no event.
	if res := a.register(ctx, nil, "3600"); res.StatusCode != 200 {
		t.Fatalf("refresh: %d", res.StatusCode)
	}
	// A second contact, its lifetime from its own parameter, cut to the
	// maximum.
	second := "sip:1001@127.0.0.1:5999"
	res = a.register(ctx, []string{"<" + second + ">;expires=99999"}, "")
	if res.StatusCode != 200 {
		t.Fatalf("second contact: %d", res.StatusCode)
	}
	if got := contactExpires(t, res); len(got) != 2 || got[second] > 3600 || got[second] < 3599 {
		t.Fatalf("200 lists %v, want both contacts, the second with 3600 s", got)
	}
	nextEvent(t, events, "1001", 2)

	// Too brief: 423 with Min-Expires, nothing changed.
	if res := a.register(ctx, nil, "30"); res.StatusCode != 423 || headerValue(res, "Min-Expires") != "60" {
		t.Fatalf("expires 30: %d Min-Expires %q", res.StatusCode, headerValue(res, "Min-Expires"))
	}
	// A query lists the bindings.
	if got := contactExpires(t, a.register(ctx, []string{}, "")); len(got) != 2 {
		t.Fatalf("query lists %v", got)
	}
	// An out-of-order REGISTER (same Call-ID, lower CSeq) fails.
	a.cseq = 1
	if res := a.register(ctx, []string{"<" + second + ">"}, "0"); res.StatusCode != 500 {
		t.Fatalf("out of order: %d", res.StatusCode)
	}
	a.cseq = 1000
	// Unregister one contact.
	if res := a.register(ctx, []string{"<" + second + ">"}, "0"); res.StatusCode != 200 || len(contactExpires(t, res)) != 1 {
		t.Fatalf("unregister one: %d %v", res.StatusCode, contactExpires(t, res))
	}
	nextEvent(t, events, "1001", 1)

	// Another agent is independent.
	other := newAgent(t, s, "1002", agentPassword, nil)
	if res := other.register(ctx, nil, "60"); res.StatusCode != 200 {
		t.Fatalf("agent 1002: %d", res.StatusCode)
	}
	nextEvent(t, events, "1002", 1)

	// Contact: * needs Expires: 0.
	if res := a.register(ctx, []string{"*"}, "60"); res.StatusCode != 400 {
		t.Fatalf("wildcard with expires 60: %d", res.StatusCode)
	}
	if res := a.register(ctx, []string{"*"}, "0"); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 0 {
		t.Fatalf("unregister all: %d", res.StatusCode)
	}
	nextEvent(t, events, "1001", 0)
	if len(s.Contacts("1001")) != 0 || len(s.Contacts("1002")) != 1 {
		t.Errorf("after unregistering 1001: %+v / %+v", s.Contacts("1001"), s.Contacts("1002"))
	}

	logs := s.logs.String()
	if strings.Contains(logs, agentPassword) || strings.Contains(logs, "response=") {
		t.Errorf("credentials in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "digest authentication failed") || !strings.Contains(logs, "agent=1001") {
		t.Errorf("failed registration not logged:\n%s", logs)
	}
}

// TestRegistrationExpires: a binding not refreshed lapses, and the agent
// is reported offline.
func TestRegistrationExpires(t *testing.T) {
	cfg := agentConfig(t)
	cfg.RegisterMinExpires = time.Second
	s := newTestServer(t, cfg, func(context.Context, *Call) {})
	events := collectEvents(s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := newAgent(t, s, "1002", agentPassword, nil)
	if res := a.register(ctx, nil, "1"); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	nextEvent(t, events, "1002", 1)
	nextEvent(t, events, "1002", 0)
	if got := s.Contacts("1002"); len(got) != 0 {
		t.Errorf("expired binding still listed: %+v", got)
	}
}

// TestRegisterWithoutAgents: with no agents configured REGISTER is a
// method like any other we do not serve.
func TestRegisterWithoutAgents(t *testing.T) {
	s := newTestServer(t, testConfig(), func(context.Context, *Call) {})
	c := newCaller(t, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res := c.do(ctx, siplib.NewRequest(siplib.REGISTER, c.uri(s, ""))); res.StatusCode != 405 {
		t.Fatalf("REGISTER = %d, want 405", res.StatusCode)
	}
}

// FuzzRegister feeds REGISTERs with arbitrary Contact and Expires headers
// to the registrar: whatever parses must leave it within its bounds, and
// its 200 must render.
func FuzzRegister(f *testing.F) {
	for _, seed := range [][2]string{
		{"<sip:1001@192.0.2.7:5062>", "3600"},
		{"<sip:1001@192.0.2.7>;expires=0, <sip:1001@192.0.2.8;transport=tcp>;expires=120", ""},
		{"*", "0"},
		{"*", "60"},
		{"\"Desk\" <sip:1001@[2001:db8::1]:5060>;q=0.5", "99999999999"},
		{"<tel:+15551234>", "60"},
		{"<sip:1001@host>;expires=-1", "x"},
		{"sip:a@b;expires=1,,,", " 7 "},
	} {
		f.Add(seed[0], seed[1], uint32(1))
	}
	r, err := newRegistrar(nil, "Hotline", 60*time.Second, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddrPort("192.0.2.7:5062")
	f.Fuzz(func(t *testing.T, contact, expires string, cseq uint32) {
		msg := fmt.Sprintf("REGISTER sip:hotline.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKfuzz\r\n"+
			"From: <sip:1001@hotline.test>;tag=f\r\nTo: <sip:1001@hotline.test>\r\nCall-ID: fuzz\r\nCSeq: %d REGISTER\r\n"+
			"Contact: %s\r\nExpires: %s\r\nContent-Length: 0\r\n\r\n", cseq, contact, expires)
		m, err := siplib.ParseMessage([]byte(msg))
		if err != nil {
			return
		}
		req, ok := m.(*siplib.Request)
		if !ok || malformed(req) != "" {
			return
		}
		now := time.Now()
		rr, rerr := r.parseRegister(req, "1001", src)
		if rerr != nil {
			if rerr.code != 400 && rerr.code != 423 {
				t.Fatalf("parse refused with %d", rerr.code)
			}
			return
		}
		bindings, rerr := r.apply(rr, now)
		if rerr != nil {
			return // out of order against an earlier input
		}
		if len(bindings) > maxBindings {
			t.Fatalf("%d bindings, more than %d", len(bindings), maxBindings)
		}
		for _, b := range bindings {
			if left := b.Expires.Sub(now); left < r.minExp || left > r.maxExp {
				t.Fatalf("binding %s lasts %s, outside [%s, %s]", b.Contact, left, r.minExp, r.maxExp)
			}
		}
		if got := len(registerOK(req, bindings, now).GetHeaders("Contact")); got != len(bindings) {
			t.Fatalf("200 lists %d of %d bindings", got, len(bindings))
		}
	})
}

// BenchmarkRegister is the cost of one authenticated REGISTER refresh over
// loopback UDP, round trip included: the phone answers the challenge once
// and reuses the nonce, as phones do.
func BenchmarkRegister(b *testing.B) {
	s := newTestServer(b, agentConfig(b), func(context.Context, *Call) {})
	a := newAgent(b, s, "1001", agentPassword, nil)
	ctx := context.Background()
	req := a.newRegister(nil, "3600")
	res, err := a.cli.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		b.Fatalf("challenge: %v %v", res, err)
	}
	chal, err := digest.ParseChallenge(headerValue(res, "WWW-Authenticate"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := a.newRegister(nil, "3600")
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(),
			Username: a.user, Password: agentPassword, Count: i + 1})
		if err != nil {
			b.Fatal(err)
		}
		req.AppendHeader(siplib.NewHeader("Authorization", cred.String()))
		res, err := a.cli.Do(ctx, req)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("register: %v %v", res, err)
		}
	}
}

func TestAgentConfig(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_PASSWORD", agentPassword)
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"valid":          {func(*Config) {}, ""},
		"no password":    {func(c *Config) { c.Agents[0].PasswordEnv = "HOTLINE_TEST_UNSET_VARIABLE" }, "empty or unset"},
		"no env name":    {func(c *Config) { c.Agents[0].PasswordEnv = "" }, "password_env"},
		"bad user":       {func(c *Config) { c.Agents[0].User = "a b@c" }, "user part"},
		"twice":          {func(c *Config) { c.Agents = append(c.Agents, c.Agents[0]) }, "twice"},
		"min above max":  {func(c *Config) { c.RegisterMinExpires, c.RegisterMaxExpires = time.Hour, time.Minute }, "register_min_expires"},
		"zero: defaults": {func(c *Config) { c.RegisterMinExpires, c.RegisterMaxExpires = 0, 0 }, ""},
		"outbound user without password": {func(c *Config) { c.Trunks[0].OutboundUsername = "hotline" },
			"outbound_password_env"},
	} {
		cfg := DefaultConfig()
		cfg.Agents = []AgentConfig{{User: "1001", PasswordEnv: "HOTLINE_TEST_AGENT_PASSWORD"}}
		tc.edit(&cfg)
		err := cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
