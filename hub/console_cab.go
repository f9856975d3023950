package hub

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/hub/ui"
)

// exceptionHorizon is how far ahead the CAB queue lists expiring
// exceptions.
const exceptionHorizon = 14 * 24 * time.Hour

// approvedAt reports whether an approval of subject holds at at.
func approvedAt(approvals []deploy.ApprovalRecord, subject string, at time.Time) bool {
	for _, a := range approvals {
		if a.Subject == subject && a.Decision == deploy.Approved && !at.Before(a.DecidedAt) && at.Before(a.ExpiresAt) {
			return true
		}
	}
	return false
}

func rejectionsOf(approvals []deploy.ApprovalRecord, subject string) []deploy.ApprovalRecord {
	var out []deploy.ApprovalRecord
	for _, a := range approvals {
		if a.Subject == subject && a.Decision == deploy.Rejected {
			out = append(out, a)
		}
	}
	return out
}

// cabPage builds the CAB queue for p at now: the pending intents whose
// risk assessment requires a CAB approval and the recorded requests for
// one (concurrency, scope change, elevation), each without an approval
// that holds now, with the newest evidence pack stored for the intent.
func (s *Server) cabPage(ctx context.Context, p *Principal, now time.Time) (ui.CABPage, error) {
	st := s.store.State()
	page := ui.CABPage{CanDecide: authorize(s.console.routes["approvals.create"], p) == "", Validity: ui.CABValidityDays, Horizon: ui.Duration(exceptionHorizon)}
	approvals, err := st.Approvals()
	if err != nil {
		return page, err
	}
	decs, err := st.Decisions()
	if err != nil {
		return page, err
	}
	bySubject := map[string][]api.Decision{}
	for _, d := range decs {
		bySubject[d.Subject] = append(bySubject[d.Subject], d.View())
	}
	intents, err := st.Intents()
	if err != nil {
		return page, err
	}
	scopeOf := map[string]deploy.Scope{}
	for _, in := range intents {
		scopeOf[in.ID] = *in.Scope
		if in.Status != store.IntentPending || !p.Scope.Overlaps(*in.Scope) {
			continue
		}
		as, err := st.Assessment(in.AssessmentID)
		if err != nil || !as.Assessment.CABRequired {
			continue
		}
		subject := deploy.Subject(deploy.SubjectIntent, in.ID)
		if approvedAt(approvals, subject, now) {
			continue
		}
		item := ui.CABItem{Subject: subject, Kind: "publish", Title: fmt.Sprintf("Publish %s %s to %s", in.AppID, in.Version, in.Ring),
			AppID: in.AppID, Version: in.Version, Ring: in.Ring.String(), RequestedBy: in.RequestedBy, RequestedAt: in.CreatedAt,
			Scope: *in.Scope, Risk: &as.Assessment, Decisions: bySubject["intent/"+in.ID], Rejections: rejectionsOf(approvals, subject)}
		if app, err := st.App(in.AppID); err == nil {
			item.AppName = app.Name
		}
		if recs, err := st.EvidenceOf(in.ID); err != nil {
			item.PackError = "evidence records unreadable: " + err.Error()
		} else if len(recs) == 0 {
			item.PackError = "no evidence pack stored for this intent yet"
		} else {
			rec := recs[len(recs)-1]
			item.PackDigest = rec.Digest.String()
			if pack, err := deploy.LoadEvidence(s.evidenceStore(ctx), rec.Digest); err != nil {
				item.PackError = fmt.Sprintf("evidence pack %s could not be read and verified: %v", rec.Digest.Short(), err)
			} else {
				item.Pack = &pack
				item.Missing = pack.Missing(in.RequiredEvidence...)
			}
		}
		page.Items = append(page.Items, item)
	}
	reqs, err := st.ApprovalRequests()
	if err != nil {
		return page, err
	}
	for _, rq := range reqs {
		if !p.Scope.Overlaps(rq.Scope) || approvedAt(approvals, rq.Subject, now) {
			continue
		}
		kind, id, _ := strings.Cut(rq.Subject, ":")
		item := ui.CABItem{Subject: rq.Subject, Kind: kind, Title: strings.ReplaceAll(kind, "-", " ") + " " + id, RequestedBy: rq.RequestedBy,
			RequestedAt: rq.RequestedAt, Scope: rq.Scope, Rejections: rejectionsOf(approvals, rq.Subject)}
		if d, err := st.Decision(rq.DecisionID); err == nil {
			item.Decisions = []api.Decision{d.View()}
		}
		page.Items = append(page.Items, item)
	}
	slices.SortStableFunc(page.Items, func(a, b ui.CABItem) int { return a.RequestedAt.Compare(b.RequestedAt) })
	exs, err := st.Exceptions()
	if err != nil {
		return page, err
	}
	for _, e := range exs {
		if sc, ok := scopeOf[e.IntentID]; ok && !p.Scope.Overlaps(sc) {
			continue
		}
		if e.ExpiresAt.After(now) && e.ExpiresAt.Sub(now) <= exceptionHorizon {
			page.Expiring = append(page.Expiring, ui.ExceptionRow{Exception: e, Left: ui.Duration(e.ExpiresAt.Sub(now))})
		}
	}
	slices.SortStableFunc(page.Expiring, func(a, b ui.ExceptionRow) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return page, nil
}

func (s *Server) uiCAB(w http.ResponseWriter, r *http.Request, c *uiRequest) {
	if len(r.URL.Query()) > 0 {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", "the CAB queue takes no query parameters")
		return
	}
	page, err := s.cabPage(r.Context(), c.p, govNow())
	if err != nil {
		s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
		return
	}
	page.Layout = c.layout
	s.uiRender(w, http.StatusOK, "cab", page)
}
