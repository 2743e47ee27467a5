package sim

import (
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// sendToFCM is the relay's sender in the virtual mode: it encodes the push exactly as the real
// sender does (the Admin SDK's JSON, or the legacy body), has fakefcm's decoder read it, and hands
// the answer back to the relay after the network's round trip — or a TIMEOUT after the send
// timeout, while FCM may still deliver, as a real sender sees it.
func (w *VirtualWorld) sendToFCM(p relay.Push, src pushSource) {
	t := w.newTrip()
	t.p, t.src, t.wc = p, src, w.certs[p.CertificateID]
	w.queued[p.ID] = struct{}{}
	t.next(w.cfg.BackendLatency, tripArrive)
}

// fcmTrip is one push on its way to FCM and its answer on the way back: the state of both
// crossings in one struct, and the event of whichever is under way (its stage). The world
// reuses trips once the answer is back: a day in the life makes hundreds of thousands.
type fcmTrip struct {
	w     *VirtualWorld
	p     relay.Push
	src   pushSource
	wc    *worldCert       // the push's certificate as it was when sent; nil if none
	res   relay.PushResult // FCM's answer, once it has one
	stage tripStage        // what the trip's event does when it comes
}

// tripStage is the part of a trip its pending event carries out.
type tripStage uint8

const (
	tripArrive   tripStage = iota // the push reaches FCM (arrive)
	tripAnswer                    // FCM's answer reaches the relay (answer)
	tripTimedOut                  // the sender gives up on a cut backend (timedOut)
)

// next schedules the trip's stage d from now.
func (t *fcmTrip) next(d time.Duration, stage tripStage) {
	t.stage = stage
	t.w.eng.after(d, t)
}

// happen (event) carries out the trip's stage.
func (t *fcmTrip) happen() {
	switch t.stage {
	case tripArrive:
		t.arrive()
	case tripAnswer:
		t.answer()
	case tripTimedOut:
		t.timedOut()
	}
}

// newTrip returns a trip to fill in: one that has ended, or a new one.
func (w *VirtualWorld) newTrip() *fcmTrip {
	if n := len(w.spareTrips); n > 0 {
		t := w.spareTrips[n-1]
		w.spareTrips = w.spareTrips[:n-1]
		return t
	}
	return &fcmTrip{w: w}
}

// end frees the trip for the next push, once nothing will read it.
func (t *fcmTrip) end() {
	w := t.w
	*t = fcmTrip{w: w}
	w.spareTrips = append(w.spareTrips, t)
}

// arrive is the push reaching FCM, a backend latency after it left the relay.
func (t *fcmTrip) arrive() {
	w, p, src, lat := t.w, &t.p, t.src, t.w.cfg.BackendLatency
	if w.backendCut {
		if !w.stale(src, p.ID) {
			delete(w.queued, p.ID)
		}
		t.res = relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: relay.ErrCodeTimeout, Message: "no answer within the send timeout"}}
		t.next(w.cfg.SendTimeout-lat, tripTimedOut)
		return
	}
	stale := w.stale(src, p.ID)
	if !stale { // a push from a relay since restarted is already on the wire
		_, live := w.queued[p.ID]
		delete(w.queued, p.ID)
		if !live {
			if w.log.on {
				w.log.add(w.eng.Now(), "push %d cancelled before it reached FCM", p.ID)
			}
			t.end()
			return
		}
	}
	w.tapped(TapEvent{Kind: TapFCM, Push: *p, Stale: stale})
	var delay time.Duration
	if t.wc == nil {
		t.res = relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: relay.ErrCodeUnauthenticated, Message: "no such certificate"}}
	} else {
		t.res, delay = w.fcmSend(t.wc, *p)
	}
	back := lat + delay
	if back+lat > w.cfg.SendTimeout {
		back = w.cfg.SendTimeout - lat
		t.res = relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: relay.ErrCodeTimeout, Message: "no answer within the send timeout"}}
	}
	t.next(back, tripAnswer)
}

// timedOut is the sender giving up on a push that the cut backend never answered.
func (t *fcmTrip) timedOut() {
	t.w.pushResult(t.src, t.res)
	t.end()
}

// answer is FCM's answer reaching the relay.
func (t *fcmTrip) answer() {
	w := t.w
	if w.log.on && (w.cl != nil || t.src.epoch == w.epoch) {
		w.log.add(w.eng.Now(), "push %d answered %s", t.p.ID, resultText(t.res))
	}
	w.pushResult(t.src, t.res)
	t.end()
}

// stale reports whether the relay (or cluster node) that made a push has since restarted, or no
// longer serves its partition.
func (w *VirtualWorld) stale(src pushSource, id uint64) bool {
	if w.cl != nil {
		return w.cl.stale(src, id)
	}
	return src.epoch != w.epoch
}

// pushResult hands FCM's answer to what made the push, unless it is gone.
func (w *VirtualWorld) pushResult(src pushSource, res relay.PushResult) {
	if w.cl != nil {
		w.cl.pushResult(src, res)
		return
	}
	if src.epoch != w.epoch {
		return // the relay that sent it is gone
	}
	_ = w.step(relay.Input{Kind: relay.InputPushResult, Result: res}, nil)
}

func resultText(r relay.PushResult) string {
	if r.Err != nil {
		return r.Err.Code
	}
	return "ok"
}

// fcmSend hands one push to fakefcm's core through its wire decoders.
func (w *VirtualWorld) fcmSend(wc *worldCert, p relay.Push) (relay.PushResult, time.Duration) {
	req := fakefcm.SendRequest{Project: wc.project}
	legacy := wc.cert.API() == "legacy"
	if legacy {
		req.API = fakefcm.APILegacy
		lr, derr := fakefcm.DecodeLegacyRequest(fcmwire.LegacyBody(wc.cert, p))
		if derr != nil {
			return relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: "INVALID_ARGUMENT", Message: derr.Body}}, 0
		}
		req.Message = lr.Message
		if len(lr.Targets) == 1 {
			req.Message.Token = lr.Targets[0]
		}
	} else if w.cfg.FastPushes {
		req.API = fakefcm.APIV1
		req.Message = fastMessage(wc.cert, p)
	} else {
		req.API = fakefcm.APIV1
		vr, derr := fakefcm.DecodeV1Request(fcmwire.V1Body(wc.cert, p))
		if derr != nil {
			req.Invalid = derr
		} else {
			req.Message = vr.Message
		}
	}
	var r fakefcm.SendResult
	w.fcmDo(func(c *fakefcm.Core, now time.Time) { r = c.Send(now, req) })
	if r.Err == nil {
		return relay.PushResult{ID: p.ID, Name: r.Name}, r.Delay
	}
	var e *relay.PushError
	if legacy {
		e = fcmwire.LegacyError(r.Err.LegacyError())
	} else {
		e = &relay.PushError{Code: string(r.Err.Code), TokenInvalid: r.Err.Field == "message.token", Message: r.Err.Message}
	}
	e.RetryAfter = r.Err.RetryAfter
	return relay.PushResult{ID: p.ID, Err: e}, r.Delay
}
