package api

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/events"
)

// answering is a far end where everyone answers and says yes.
type answering struct{}

func (answering) Call(ctx context.Context, c campaign.Call) campaign.Result {
	return campaign.Result{Outcome: campaign.Booked, CallID: "call-" + c.Contact.Number}
}

func newCampaignFixture(t *testing.T) (*fixture, *campaign.Dialer) {
	t.Helper()
	var d *campaign.Dialer
	f := newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(deps *Deps) {
		d = campaign.New(deps.Store, answering{}, nil, slog.New(slog.DiscardHandler))
		deps.Campaigns = d
	})
	t.Cleanup(d.Close)
	return f, d
}

const campaignSpec = `{"name": "reminders", "greeting": "Hello {name}, your {product} is due.",
	"hours": {"start": "00:00", "end": "24:00"}, "max_concurrent": 2, "calls_per_second": 20,
	"retry": {"busy": {"attempts": 3, "backoff": "10m"}}}`

func TestCampaignAPI(t *testing.T) {
	f, _ := newCampaignFixture(t)

	r := f.post(t, "/api/v1/campaigns", supToken, campaignSpec)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var st campaign.Status
	r.json(t, &st)
	if st.ID <= 0 || st.State != "draft" || st.Spec.MaxConcurrent != 2 {
		t.Fatalf("created %+v", st)
	}
	path := "/api/v1/campaigns/" + strconv.FormatInt(st.ID, 10)

	// An agent may not, nor may anyone without a token.
	if r := f.post(t, "/api/v1/campaigns", aliceToken, campaignSpec); r.status != http.StatusForbidden {
		t.Errorf("agent creates: %d", r.status)
	}
	if r := f.get(t, path, ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}

	// A bad upload names its line, and adds nothing.
	bad := "number,name,product\n+4930111,Lena,card\nabc,Tom,loan\n"
	r = f.post(t, path+"/contacts", supToken, bad, "text/csv")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `line 3: number \"abc\"`) {
		t.Errorf("bad CSV: %d %s", r.status, r.body)
	}
	good := "number,name,product\n+4930111,Lena,card\n+4930222,Tom,loan\n"
	r = f.post(t, path+"/contacts", supToken, good, "text/csv")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"added":2`) {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r = f.post(t, path+"/contacts", supToken, `[{"number": "+4930333", "name": "Ann"}]`)
	if r.status != http.StatusOK {
		t.Fatalf("JSON contacts: %d %s", r.status, r.body)
	}
	if r := f.post(t, path+"/contacts", supToken, `[{"number": "+4930333"}]`); r.status != http.StatusBadRequest {
		t.Errorf("a number already in the campaign: %d %s", r.status, r.body)
	}
	if r := f.post(t, path+"/contacts", supToken, good, "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain upload: %d", r.status)
	}

	// The do-not-call list is honoured.
	if r := f.post(t, "/api/v1/dnc", supToken, `{"number": "+49 30 222", "reason": "asked"}`); r.status != http.StatusCreated {
		t.Fatalf("dnc add: %d %s", r.status, r.body)
	}
	if r := f.post(t, "/api/v1/dnc", supToken, `{"number": "nope"}`); r.status != http.StatusBadRequest {
		t.Errorf("dnc add of a malformed number: %d %s", r.status, r.body)
	}

	if r := f.post(t, path+"/pause", supToken, ""); r.status != http.StatusConflict {
		t.Errorf("pause a draft: %d %s", r.status, r.body)
	}
	if r := f.post(t, path+"/start", supToken, ""); r.status != http.StatusOK {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	waitFor(t, "the campaign to complete", func() bool {
		var st campaign.Status
		f.get(t, path, supToken).json(t, &st)
		return st.State == "completed"
	})
	f.get(t, path, supToken).json(t, &st)
	if p := st.Progress; p.Contacts != 3 || p.Done != 2 || p.DNC != 1 || p.Attempts[campaign.Booked] != 2 || p.Remaining != 0 {
		t.Errorf("progress %+v", p)
	}
	if r := f.post(t, path+"/resume", supToken, ""); r.status != http.StatusConflict {
		t.Errorf("resume a completed campaign: %d", r.status)
	}
	if r := f.post(t, path+"/fly", supToken, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown action: %d", r.status)
	}

	r = f.get(t, path+"/results", supToken)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("results: %d %s", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "number" || rows[1][6] != "booked" || rows[2][2] != "dnc" {
		t.Errorf("results %q, %v", rows, err)
	}

	var list struct {
		Campaigns []campaign.Status `json:"campaigns"`
	}
	f.get(t, "/api/v1/campaigns", supToken).json(t, &list)
	if len(list.Campaigns) != 1 || list.Campaigns[0].ID != st.ID {
		t.Errorf("list %+v", list)
	}
	if r := f.get(t, "/api/v1/campaigns/999", supToken); r.status != http.StatusNotFound {
		t.Errorf("unknown campaign: %d", r.status)
	}
	if r := f.get(t, "/api/v1/campaigns/x", supToken); r.status != http.StatusBadRequest {
		t.Errorf("bad id: %d", r.status)
	}

	if r := f.get(t, "/api/v1/dnc", supToken); r.status != http.StatusOK || !strings.Contains(string(r.body), `"+4930222"`) {
		t.Errorf("dnc list: %d %s", r.status, r.body)
	}
	if r := f.del(t, "/api/v1/dnc/+4930222", supToken); r.status != http.StatusNoContent {
		t.Errorf("dnc remove: %d %s", r.status, r.body)
	}
	if r := f.del(t, "/api/v1/dnc/+4930222", supToken); r.status != http.StatusNotFound {
		t.Errorf("dnc remove twice: %d", r.status)
	}
}

// A malformed campaign gets a 400 naming every problem.
func TestCampaignAPIValidation(t *testing.T) {
	f, _ := newCampaignFixture(t)
	for _, tc := range []struct{ body, want string }{
		{`{"name": "x"}`, "greeting"},
		{`{"name": "", "greeting": "hi", "max_concurrent": 0.5}`, "max_concurrent"},
		{`{"name": "x", "greeting": "hi", "hours": {"start": "25:00"}, "calls_per_second": 500}`, "HH:MM; calls_per_second"},
		{`{"name": "x", "greeting": "hi", "colour": 1}`, "unknown field"},
		{`[`, "unexpected EOF"},
	} {
		r := f.post(t, "/api/v1/campaigns", supToken, tc.body)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s, want 400 about %q", tc.body, r.status, r.body, tc.want)
		}
	}
	if r := f.post(t, "/api/v1/campaigns", supToken, campaignSpec, "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain spec: %d", r.status)
	}
	big := `{"name": "x", "greeting": "` + strings.Repeat("a", maxSpecBody) + `"}`
	if r := f.post(t, "/api/v1/campaigns", supToken, big); r.status != http.StatusBadRequest {
		t.Errorf("huge spec: %d", r.status)
	}
}

// Without campaigns configured, the endpoints answer 501.
func TestCampaignAPIOff(t *testing.T) {
	f := newFixture(t)
	if r := f.get(t, "/api/v1/campaigns", supToken); r.status != http.StatusNotImplemented {
		t.Errorf("campaigns off: %d", r.status)
	}
}
