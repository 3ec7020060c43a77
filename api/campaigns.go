package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/campaign"
)

// Bounds of the campaign endpoints' bodies: a spec is a few fields, a
// contact upload up to campaign.MaxContacts lines.
const (
	maxSpecBody    = 64 << 10
	maxContactBody = 32 << 20
)

// campaignRoutes adds the campaign and do-not-call endpoints.
func (s *server) campaignRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/campaigns", s.auth(RoleSupervisor, s.campaigns))
	mux.Handle("POST /api/v1/campaigns", s.auth(RoleSupervisor, s.createCampaign))
	mux.Handle("GET /api/v1/campaigns/{id}", s.auth(RoleSupervisor, s.campaign))
	mux.Handle("POST /api/v1/campaigns/{id}/contacts", s.auth(RoleSupervisor, s.addContacts))
	mux.Handle("POST /api/v1/campaigns/{id}/{action}", s.auth(RoleSupervisor, s.campaignAction))
	mux.Handle("GET /api/v1/campaigns/{id}/results", s.auth(RoleSupervisor, s.campaignResults))
	mux.Handle("GET /api/v1/dnc", s.auth(RoleSupervisor, s.dncList))
	mux.Handle("POST /api/v1/dnc", s.auth(RoleSupervisor, s.dncAdd))
	mux.Handle("DELETE /api/v1/dnc/{number}", s.auth(RoleSupervisor, s.dncRemove))
}

// dialer is the node's campaign dialer, or nil after answering 501.
func (s *server) dialer(w http.ResponseWriter) *campaign.Dialer {
	if s.deps.Campaigns == nil {
		writeError(w, http.StatusNotImplemented, "this node places no campaign calls (campaigns.gateway)")
	}
	return s.deps.Campaigns
}

// failCampaign answers a dialer's error: a bad spec or upload 400, a
// state change the campaign's state does not allow 409.
func (s *server) failCampaign(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, campaign.ErrState):
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "campaign: "))
	case errors.Is(err, campaign.ErrInvalid):
		msg := strings.TrimSuffix(err.Error(), ": "+campaign.ErrInvalid.Error())
		writeError(w, http.StatusBadRequest, clip(msg, 500))
	default:
		s.fail(w, r, err)
	}
}

func (s *server) campaigns(w http.ResponseWriter, r *http.Request) {
	d := s.dialer(w)
	if d == nil {
		return
	}
	list, err := d.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": list})
}

func (s *server) createCampaign(w http.ResponseWriter, r *http.Request) {
	d := s.dialer(w)
	if d == nil || !isJSON(w, r) {
		return
	}
	body, err := readBody(r.Body, maxSpecBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	spec, err := campaign.ParseSpec(body)
	if err != nil {
		s.fail(w, r, badRequest(clip(strings.TrimPrefix(err.Error(), "campaign: "), 500)))
		return
	}
	id, err := d.Create(r.Context(), spec)
	if err != nil {
		s.failCampaign(w, r, err)
		return
	}
	s.log.Info("api: campaign created", "campaign", id, "by", principalOf(r.Context()).name)
	s.writeStatus(w, r, d, id, http.StatusCreated)
}

// dialerFor is the node's dialer and the path's campaign id, or false
// after answering.
func (s *server) dialerFor(w http.ResponseWriter, r *http.Request) (*campaign.Dialer, int64, bool) {
	d := s.dialer(w)
	if d == nil {
		return nil, 0, false
	}
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return nil, 0, false
	}
	return d, id, true
}

// writeStatus answers with the campaign's status.
func (s *server) writeStatus(w http.ResponseWriter, r *http.Request, d *campaign.Dialer, id int64, code int) {
	st, err := d.Status(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, code, st)
}

func (s *server) campaign(w http.ResponseWriter, r *http.Request) {
	d, id, ok := s.dialerFor(w, r)
	if !ok {
		return
	}
	s.writeStatus(w, r, d, id, http.StatusOK)
}

// addContacts takes contacts as CSV (text/csv, with a header line) or as
// a JSON array.
func (s *server) addContacts(w http.ResponseWriter, r *http.Request) {
	d, id, ok := s.dialerFor(w, r)
	if !ok {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "text/csv" && mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: text/csv or application/json")
		return
	}
	body, err := readBody(r.Body, maxContactBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var cs []campaign.Contact
	if mt == "text/csv" {
		cs, err = campaign.ParseCSV(bytes.NewReader(body))
	} else {
		cs, err = campaign.ParseJSON(body)
	}
	if err != nil {
		s.failCampaign(w, r, err)
		return
	}
	if err := d.AddContacts(r.Context(), id, cs); err != nil {
		s.failCampaign(w, r, err)
		return
	}
	s.log.Info("api: campaign contacts added", "campaign", id, "contacts", len(cs), "by", principalOf(r.Context()).name)
	writeJSON(w, http.StatusOK, map[string]int{"added": len(cs)})
}

// campaignAction starts, pauses, resumes or stops a campaign.
func (s *server) campaignAction(w http.ResponseWriter, r *http.Request) {
	d, id, ok := s.dialerFor(w, r)
	if !ok {
		return
	}
	actions := map[string]func(context.Context, int64) error{"start": d.Start, "pause": d.Pause, "resume": d.Resume, "stop": d.Stop}
	action := r.PathValue("action")
	do, ok := actions[action]
	if !ok {
		writeError(w, http.StatusNotFound, "not found: want start, pause, resume, stop or contacts")
		return
	}
	if err := do(r.Context(), id); err != nil {
		s.failCampaign(w, r, err)
		return
	}
	s.log.Info("api: campaign "+action, "campaign", id, "by", principalOf(r.Context()).name)
	s.writeStatus(w, r, d, id, http.StatusOK)
}

// campaignResults sends the attempts as CSV.
func (s *server) campaignResults(w http.ResponseWriter, r *http.Request) {
	d, id, ok := s.dialerFor(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := d.Export(r.Context(), id, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%d-%s.csv"`, id, time.Now().UTC().Format("20060102-150405")))
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b.Bytes())
}

type dncJSON struct {
	Number  string    `json:"number"`
	Reason  string    `json:"reason,omitempty"`
	AddedAt time.Time `json:"added_at"`
}

func (s *server) dncList(w http.ResponseWriter, r *http.Request) {
	d := s.dialer(w)
	if d == nil {
		return
	}
	list, err := d.DNC(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]dncJSON, len(list))
	for i, e := range list {
		out[i] = dncJSON{Number: e.Number, Reason: e.Reason, AddedAt: e.AddedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"numbers": out})
}

func (s *server) dncAdd(w http.ResponseWriter, r *http.Request) {
	d := s.dialer(w)
	if d == nil || !isJSON(w, r) {
		return
	}
	var req struct {
		Number string `json:"number"`
		Reason string `json:"reason"`
	}
	if err := decodeBody(r.Body, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := d.AddDNC(r.Context(), req.Number, req.Reason)
	if err != nil {
		s.failCampaign(w, r, err)
		return
	}
	s.log.Info("api: do-not-call added", "by", principalOf(r.Context()).name)
	writeJSON(w, http.StatusCreated, map[string]string{"number": n})
}

func (s *server) dncRemove(w http.ResponseWriter, r *http.Request) {
	d := s.dialer(w)
	if d == nil {
		return
	}
	if err := d.RemoveDNC(r.Context(), r.PathValue("number")); err != nil {
		s.failCampaign(w, r, err)
		return
	}
	s.log.Info("api: do-not-call removed", "by", principalOf(r.Context()).name)
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads a body of at most limit bytes.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, badf("body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, badf("body: want at most %d bytes", limit)
	}
	return b, nil
}
