package scenarios

import (
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// virtualBackend runs a scenario in the simulator's virtual time.
type virtualBackend struct {
	w *sim.World
}

func newVirtual(sc *Scenario, seed uint64) (*virtualBackend, error) {
	w, err := sim.NewWorld(sim.WorldConfig{
		Seed: seed, Relay: sc.Relay, FCM: sc.FCM,
		Latency: sc.Network.Latency.D(), Jitter: sc.Network.Jitter.D(), Loss: sc.Network.Loss,
	})
	if err != nil {
		return nil, err
	}
	return &virtualBackend{w: w}, nil
}

func (v *virtualBackend) addApp(a relay.AppConfig) error { return v.w.AddApp(a) }

func (v *virtualBackend) addCertificate(c Certificate) (string, error) {
	return v.w.AddCertificate(c.ID, c.App, c.PackageName, c.API)
}

func (v *virtualBackend) addDevice(cfg sim.DeviceConfig) *sim.Device { return v.w.AddDevice(cfg) }
func (v *virtualBackend) do(fn func())                               { fn() }
func (v *virtualBackend) now() time.Time                             { return v.w.Now() }
func (v *virtualBackend) advance(d time.Duration)                    { v.w.Engine().RunUntil(v.w.Now().Add(d)) }

func (v *virtualBackend) waitUntil(deadline time.Time, cond func() bool) bool {
	if cond() {
		return true
	}
	return !v.w.Engine().RunWhile(deadline, func() bool { return !cond() })
}

func (v *virtualBackend) kick(app uint64, user string) error {
	var err error
	v.w.RelayDo(func(c *relay.Core, now time.Time) { _, err = c.Kick(now, app, user, "") })
	return err
}

func (v *virtualBackend) createGroup(app uint64, id string, members []string) error {
	var err error
	v.w.RelayDo(func(c *relay.Core, now time.Time) {
		_, err = c.PutGroup(now, relay.Group{SDKAppID: app, ID: id, Members: members})
	})
	return err
}

func (v *virtualBackend) setFaults(rules []fakefcm.FaultRule) error {
	var err error
	v.w.FCMDo(func(c *fakefcm.Core, _ time.Time) { err = c.SetFaults(rules) })
	return err
}

func (v *virtualBackend) addFaults(rules []fakefcm.FaultRule) error {
	var err error
	v.w.FCMDo(func(c *fakefcm.Core, _ time.Time) { err = c.AddFaults(rules) })
	return err
}

func (v *virtualBackend) setLink(d *sim.Device, n *NetworkStep) error {
	l := v.w.LinkOf(d)
	if n.Partition != nil {
		l.Partitioned = *n.Partition
	}
	if n.Latency != 0 || n.Jitter != 0 {
		l.Latency, l.Jitter = n.Latency.D(), n.Jitter.D()
	}
	if n.Loss != nil {
		l.Loss = *n.Loss
	}
	v.w.SetLink(d, l)
	return nil
}

func (v *virtualBackend) partitionFCM(cut bool) error {
	v.w.SetBackendPartition(cut)
	return nil
}

func (v *virtualBackend) restartRelay() error { return v.w.RestartRelay() }

func (v *virtualBackend) online(app uint64, user, device string) (bool, error) {
	u, ok := v.w.Relay().User(app, user)
	if !ok {
		return false, nil
	}
	for _, d := range u.Devices {
		if d.DeviceID == device {
			return d.Online, nil
		}
	}
	return false, nil
}

func (v *virtualBackend) fcmRegistered(token string) bool {
	info, ok := v.w.FCM().Device(token)
	return ok && info.Registered
}

func (v *virtualBackend) trace() []relay.TraceEntry { return v.w.Trace() }

func (v *virtualBackend) fcmRecords() []fakefcm.Record {
	return v.w.FCM().Records(fakefcm.RecordFilter{})
}

func (v *virtualBackend) close() {}
