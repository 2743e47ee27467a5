package scenarios

import (
	"fmt"

	"github.com/pushlab/pushlab/sim"
)

// How the runner waits for a step to land before the next: on the world's clock, up to
// settleTimeout, naming what did not happen. A replay scenario with settle: false waits for
// nothing: each wait below then holds at once.

// waitFor waits up to the settle timeout for cond (called outside Do: see onDevices).
func (r *runner) waitFor(cond func() bool) bool {
	return r.w.WaitUntil(r.w.Now().Add(settleTimeout), cond)
}

// onDevices is a condition that reads the phones, made safe to wait on: it runs inside Do.
func (r *runner) onDevices(cond func() bool) func() bool {
	return func() bool {
		var ok bool
		r.w.Do(func() { ok = cond() })
		return ok
	}
}

func hasPending(d *sim.Device) bool { return d.PendingRequests() > 0 }

// settle waits for a condition about a device (called outside Do), naming what did not happen.
func (r *runner) settle(dev, what string, cond func() bool) error {
	if !r.sc.settles() {
		return nil
	}
	if r.waitFor(cond) {
		return nil
	}
	return fmt.Errorf("%s did not %s within %v%s", dev, what, settleTimeout, r.lastRefusal(dev))
}

func (r *runner) lastRefusal(dev string) string {
	var why string
	r.w.Do(func() {
		obs := r.devices[dev].Observations()
		for i := len(obs) - 1; i >= 0; i-- {
			if obs[i].Kind == sim.ObsRefused || obs[i].Kind == sim.ObsClosed {
				why = ": " + obs[i].Detail
				return
			}
		}
	})
	return why
}

// settleIdle waits until the device has its answers.
func (r *runner) settleIdle(id string, d *sim.Device) error {
	return r.settle(id, "get its answers", r.onDevices(func() bool { return !hasPending(d) }))
}

// settleLogin waits until a device that should be logged in is (and has synced and reported its
// token); must says the step is a login, which has to succeed.
func (r *runner) settleLogin(id string, d *sim.Device, must bool) error {
	if !r.sc.settles() {
		return nil
	}
	var wants bool
	r.w.Do(func() { wants = must || (d.App() != sim.AppNotRunning && d.Credentials() && d.NetUp()) })
	if !wants {
		return nil
	}
	return r.settle(id, "log in", r.onDevices(func() bool { return d.LoggedIn() && !hasPending(d) }))
}

// settleRelogin waits, after a relay restart, until a running app is logged in again on a
// connection the new relay knows.
func (r *runner) settleRelogin(id string, d *sim.Device) error {
	if !r.sc.settles() {
		return nil
	}
	var wants bool
	r.w.Do(func() { wants = d.App() != sim.AppNotRunning && d.Credentials() && d.NetUp() })
	if !wants {
		return nil
	}
	cfg, user := r.dcfg[id], r.userOf(id)
	ready := r.onDevices(func() bool { return d.LoggedIn() && !hasPending(d) })
	return r.settle(id, "log in to the restarted relay", func() bool {
		if !ready() {
			return false
		}
		on, err := r.w.Online(cfg.App, user, id)
		return err == nil && on
	})
}

// userOf is the user a phone is now: the one it was declared with, or the one it was handed
// to (switchUser).
func (r *runner) userOf(id string) string {
	var u string
	r.w.Do(func() { u = r.devices[id].User() })
	return u
}

// settleOffline waits until the relay has seen the device's connection go.
func (r *runner) settleOffline(id string) error {
	if !r.sc.settles() {
		return nil
	}
	cfg, user := r.dcfg[id], r.userOf(id)
	ok := r.waitFor(func() bool {
		on, err := r.w.Online(cfg.App, user, id)
		return err == nil && !on
	})
	if !ok {
		return fmt.Errorf("the relay still saw %s online after %v", id, settleTimeout)
	}
	return nil
}
