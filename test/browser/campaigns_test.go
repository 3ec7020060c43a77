package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/events"
)

// customers answers a campaign's calls at once: numbers starting with 2
// are busy, everyone else says yes.
type customers struct{}

func (customers) Call(ctx context.Context, c campaign.Call) campaign.Result {
	if strings.HasPrefix(c.Contact.Number, "+492") {
		return campaign.Result{Outcome: campaign.Busy, SIPCode: 486}
	}
	return campaign.Result{Outcome: campaign.Booked, CallID: "call-" + c.Contact.Number}
}

// campaignStep is a line campaigns.mjs prints.
type campaignStep struct {
	Step    string   `json:"step"`
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Cells   []string `json:"cells"`
	DNC     []string `json:"dnc"`
	Path    string   `json:"path"`
	Spec    string   `json:"spec"`
	Invalid []string `json:"invalid"`
	Posts   int      `json:"posts"`
}

// A supervisor fills in a new campaign on the campaigns page: the browser
// holds back an empty form, the API's refusal shows next to it, and the
// form posts exactly the campaign it says with its CSV. A bad contact file
// is refused naming its line, a number goes on the do-not-call list, and
// the started campaign's progress runs to the end; the results download
// as CSV.
func TestCampaignsPageInChromium(t *testing.T) {
	chromium := needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	st := openStore(ctx, t, filepath.Join(t.TempDir(), "hotline.db"))
	log := warnLog(t)
	dialer := campaign.New(st, customers{}, nil, log)
	t.Cleanup(dialer.Close)
	hs := serveAPI(t, "", api.Deps{Store: st, Events: events.NewBus(0), Campaigns: dialer}, log)

	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.csv"), filepath.Join(dir, "bad.csv")
	os.WriteFile(good, []byte("number,name,product,due_date\n+49111,Lena Park,card,March 31\n+49222,Tom Berg,loan,April 2\n+4930333,Ann Lee,card,April 3\n"), 0o644)
	os.WriteFile(bad, []byte("number,name\n+49111,Lena\nnot a number,Tom\n"), 0o644)

	shots := screenshotDir(t)
	cmd := script(ctx, t, chromium, "campaigns.mjs", hs.URL, supToken, good, bad, shots)
	stdout := startScript(t, cmd)
	steps := map[string]campaignStep{}
	sc2 := bufio.NewScanner(stdout)
	for sc2.Scan() {
		var s campaignStep
		if json.Unmarshal(sc2.Bytes(), &s) != nil {
			t.Logf("campaigns.mjs: %s", sc2.Text())
			continue
		}
		t.Logf("step %q %+v", s.Step, s)
		steps[s.Step] = s
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("campaigns.mjs: %v (%s)", err, steps["failed"].Error)
	}
	if e, ok := steps["page error"]; ok {
		t.Errorf("the page threw: %s", e.Error)
	}
	if h := steps["held back"]; h.Posts != 0 || !slices.Contains(h.Invalid, "c-name") || !slices.Contains(h.Invalid, "c-greeting") {
		t.Errorf("empty form: %d posts, invalid %q; want none posted, name and greeting invalid", h.Posts, h.Invalid)
	}
	if m := steps["fields"].Message; !strings.Contains(m, "{name}, {product}, {due_date}") {
		t.Errorf("greeting hint %q, want the CSV's fields", m)
	}
	if m := steps["refused"].Message; !strings.Contains(m, "hours: end 08:00 must be after start 09:00") {
		t.Errorf("refusal shows %q", m)
	}
	created := steps["created"]
	var got, want map[string]any
	if err := json.Unmarshal([]byte(created.Spec), &got); err != nil {
		t.Fatalf("posted campaign %q: %v", created.Spec, err)
	}
	json.Unmarshal([]byte(`{"name": "Browser reminders", "purpose": "remind customers of a payment due",
		"greeting": "Hello {name}, your {product} payment is due on {due_date}. Shall we book a reminder?",
		"flow": "reminders", "hours": {"start": "00:00", "end": "24:00"}, "time_zone": "Europe/Berlin",
		"max_concurrent": 2, "calls_per_second": 20, "ring_timeout": "25s",
		"retry": {"no_answer": {"attempts": 2, "backoff": "1h"}},
		"machine": {"action": "message", "message": "This is Northwind Bank about your {product} payment. Please call us back."}}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("posted campaign\n%s\nwant\n%v", created.Spec, want)
	}
	if len(created.Cells) != 7 || created.Cells[1] != "draft" || created.Cells[2] != "3" || created.Message != "" {
		t.Errorf("created campaign row %q, form message %q", created.Cells, created.Message)
	}
	if m := steps["bad upload"].Message; !strings.Contains(m, `line 3: number "not a number"`) {
		t.Errorf("bad upload shows %q, want line 3 named", m)
	}
	done := steps["completed"]
	// Campaign, state, contacts, remaining, in progress, outcomes, actions.
	if len(done.Cells) != 7 || !strings.HasPrefix(done.Cells[0], "Browser reminders") || done.Cells[1] != "completed" ||
		done.Cells[2] != "3" || done.Cells[3] != "0" || done.Cells[4] != "0" ||
		done.Cells[5] != "booked 1busy 1do not call 1" {
		t.Errorf("campaign row %q", done.Cells)
	}
	if len(done.DNC) != 1 || !strings.Contains(done.DNC[0], "+4930333") {
		t.Errorf("do-not-call list %q", done.DNC)
	}
	b, err := os.ReadFile(steps["results"].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "+49111,Lena Park,done,1,") || !strings.Contains(string(b), "+49222,Tom Berg,done,1,") {
		t.Errorf("results:\n%s", b)
	}
}
