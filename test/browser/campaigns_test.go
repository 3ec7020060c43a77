package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
}

// A supervisor creates a campaign on the campaigns page, a bad contact
// file is refused naming its line, a good one is added, a number goes on
// the do-not-call list, and the started campaign's progress runs to the
// end; the results download as CSV.
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
	if m := steps["bad upload"].Message; !strings.Contains(m, `line 3: number "not a number"`) {
		t.Errorf("bad upload shows %q, want line 3 named", m)
	}
	if m := steps["uploaded"].Message; m != "3 contacts added." {
		t.Errorf("upload shows %q", m)
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
