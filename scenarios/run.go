package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
	"github.com/pushlab/pushlab/sim/oracle"
)

// Options say how to run scenarios: on which twin of the world port.
type Options struct {
	// Seed fixes the virtual twin's draws; the same seed gives the same run. A scenario that
	// pins its seed (replay.seed) runs with its own.
	Seed uint64
	// SeedGiven says Seed was asked for (pushsim run --seed): a scenario that pins another seed
	// is then refused rather than run with either.
	SeedGiven bool
	// Live runs on real sockets and the real clock, against an embedded relay and fakefcm (a
	// scenario with cluster: against a cluster of relay processes, and an embedded fakefcm).
	Live bool
	// Remote names a relay (and a fakefcm) started elsewhere: the remote twin. It implies Live.
	Remote *live.Remote
	// RelayBin is the relay binary the live twin runs a scenario's cluster: with (empty: next to
	// this program, or on PATH).
	RelayBin string
	// Logger receives the log lines of the embedded relay and fakefcm of the live twin; nil
	// discards them.
	Logger *slog.Logger
	// Checker is what a batch of scenarios is checked against, read once by NewChecker (for a
	// remote relay, its settings); nil makes each Run read its own.
	Checker *Checker
}

// Twin names the twin the options choose: "virtual", "live" or "remote".
func (o Options) Twin() string { return o.Features().Twin }

// Features is what the chosen twin can honour.
func (o Options) Features() sim.Features {
	switch {
	case o.Remote != nil:
		return live.FeaturesOf(live.Config{Remote: o.Remote})
	case o.Live:
		return live.FeaturesOf(live.Config{})
	}
	return sim.VirtualConfig{}.Features()
}

// featuresFor is what the chosen twin can honour for a scenario: on the live twin, a scenario
// with a cluster runs on a cluster of relay processes.
func (o Options) featuresFor(sc *Scenario) sim.Features {
	f := o.Features()
	if sc.Cluster != nil && o.Live && o.Remote == nil {
		f = live.ClusterFeatures(f)
	}
	return f
}

// Validate refuses options that cannot work together, before anything runs.
func (o Options) Validate() error {
	if o.Remote != nil && o.Remote.FCMURL == "" && o.Remote.AdminKey == "" {
		return errors.New("a relay whose pushes pushsim cannot watch (no --fcm) is checked and traced through its admin API: give --admin-key (or set PUSHLAB_ADMIN_KEY)")
	}
	if o.Remote != nil && o.Remote.RelayURL == "" {
		if o.Remote.FCMURL != "" {
			return errors.New("--fcm names the fakefcm of a relay started elsewhere: give that relay with --relay (and --admin-key), or leave --fcm out")
		}
		return errors.New("a remote run needs the relay's URL (--relay)")
	}
	return nil
}

// Checker holds what a batch of scenarios is checked against before any runs: the twin's
// features and, for a remote relay, the rules it runs with (read once).
type Checker struct {
	features sim.Features
	settings *relay.Config
	// seed is the seed asked for, if one was (Options.SeedGiven).
	seed *uint64
	// exists, for a relay whose apps and certificates exist already (a remote relay without a
	// fakefcm), asks its admin API whether path (/admin/v1/apps/…) names something; nil otherwise.
	exists func(path string) (bool, error)
	// relayURL names that relay in refusals.
	relayURL string
}

// NewChecker reads what it needs to check scenarios against the options' twin: for a remote
// relay, its settings (GET /admin/v1/settings).
func NewChecker(ctx context.Context, o Options) (*Checker, error) {
	c := &Checker{features: o.Features()}
	if o.SeedGiven {
		c.seed = &o.Seed
	}
	if o.Remote != nil {
		r := *o.Remote
		r.FCMURL = "" // the relay alone: its settings are all the checker reads
		w, err := live.Open(ctx, live.Config{Remote: &r})
		if err != nil {
			return nil, err
		}
		defer w.Close()
		st, err := w.RelaySettings()
		if err != nil {
			return nil, err
		}
		c.settings = &st
		if o.Remote.FCMURL == "" {
			c.exists, c.relayURL = existsOn(ctx, *o.Remote), o.Remote.RelayURL
		}
	}
	return c, nil
}

// existsOn asks a remote relay's admin API whether an app or a certificate exists.
func existsOn(ctx context.Context, r live.Remote) func(path string) (bool, error) {
	hc := r.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	admin := &client.Admin{BaseURL: r.RelayURL, Key: r.AdminKey, HTTP: hc}
	return func(path string) (bool, error) {
		err := admin.Do(ctx, http.MethodGet, path, nil, nil)
		var ae *client.AdminError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return false, nil
		}
		return err == nil, err
	}
}

// missing lists the scenario's apps and certificates the relay does not have, when they must
// exist already (c.exists), each at its place in the file and saying what to do.
func (c *Checker) missing(sc *Scenario) []error {
	if c.exists == nil {
		return nil
	}
	var out []error
	for i, a := range sc.Apps {
		ok, err := c.exists(client.AppPath(a.SDKAppID))
		switch {
		case err != nil:
			out = append(out, sc.errorAt(sc.keyPos(fmt.Sprintf("apps[%d]", i), "sdkAppId"), "app %d: could not ask the relay at %s whether it exists: %v", a.SDKAppID, c.relayURL, err))
		case !ok:
			out = append(out, sc.errorAt(sc.keyPos(fmt.Sprintf("apps[%d]", i), "sdkAppId"), "app %d does not exist on the relay at %s: create it there "+
				"(admin API POST /admin/v1/apps, or the console) with the secret the scenario's secretKey gives, or name an app it has", a.SDKAppID, c.relayURL))
		}
	}
	for i, ce := range sc.Certificates {
		ok, err := c.exists(client.CertificatePath(ce.App, ce.ID))
		switch {
		case err != nil:
			out = append(out, sc.errorAt(sc.keyPos(fmt.Sprintf("certificates[%d]", i), "id"), "certificate %d: could not ask the relay at %s whether it exists: %v", ce.ID, c.relayURL, err))
		case !ok:
			out = append(out, sc.errorAt(sc.keyPos(fmt.Sprintf("certificates[%d]", i), "id"), "certificate %d of app %d does not exist on the relay at %s: register "+
				"the app's FCM credentials there (admin API POST /admin/v1/apps/%d/certificates, or the console) and name its certificate ID", ce.ID, ce.App, c.relayURL, ce.App))
		}
	}
	return out
}

// Check lists every setting of the scenario the twin cannot honour, each at its file:line:column
// and saying what to do; none means the scenario can run.
func (c *Checker) Check(sc *Scenario) []error {
	out := sc.refusals(c.features, c.settings)
	out = append(out, c.missing(sc)...)
	if r := sc.Replay; r != nil && r.Seed != nil && c.seed != nil && *r.Seed != *c.seed {
		out = append(out, sc.errorAt(sc.keyPos("replay", "seed"), "replay.seed: the scenario replays seed %d but --seed %d was given: "+
			"drop --seed (the file's seed is used) or give --seed %d", *r.Seed, *c.seed, *r.Seed))
	}
	return out
}

// seedOf is the seed a scenario runs with: its own (replay.seed), or the options'.
func seedOf(sc *Scenario, o Options) uint64 {
	if sc.Replay != nil && sc.Replay.Seed != nil {
		return *sc.Replay.Seed
	}
	return o.Seed
}

// Run plays one scenario and reports how it went. A scenario the twin cannot honour is not run:
// its report carries the refusals as its error.
func Run(ctx context.Context, sc *Scenario, opt Options) reports.Scenario {
	fail := func(err error) reports.Scenario { return NotRun(sc, err) }
	if err := opt.Validate(); err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	checker := opt.Checker
	if checker == nil {
		var err error
		if checker, err = NewChecker(ctx, opt); err != nil {
			return fail(fmt.Errorf("setup: %w", err))
		}
	}
	if refused := checker.Check(sc); len(refused) > 0 {
		return Refused(sc, opt.Twin(), refused)
	}
	// The invariant oracle watches every run whose twin can be tapped.
	var o *oracle.Oracle
	if opt.featuresFor(sc).Tap {
		o = NewOracle(sc)
	}
	w, err := openWorld(ctx, sc, opt, o)
	if err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	defer w.Close()
	r := &runner{sc: sc, w: w, oracle: o}
	r.run(ctx)
	return r.out
}

// NotRun is the report of a scenario that could not start, with the reason as its error.
func NotRun(sc *Scenario, err error) reports.Scenario {
	out := reports.Scenario{Name: sc.Name, Description: sc.Description, File: sc.File, Error: err.Error(),
		Steps: []reports.Step{}, Expectations: []reports.Expectation{}, Devices: []reports.Device{},
		Trace: []reports.TraceEntry{}, FCM: []reports.FCMMessage{}}
	out.Totals = reports.SummarizeScenario(&out)
	return out
}

// Refused is the report of a scenario not run because the twin cannot honour the settings in
// errs.
func Refused(sc *Scenario, twin string, errs []error) reports.Scenario {
	out := NotRun(sc, fmt.Errorf("not run: the %s world cannot honour it: %w", twin, errors.Join(errs...)))
	out.NotRun = true
	out.Totals = reports.SummarizeScenario(&out)
	return out
}

// openWorld builds the options' twin for a scenario, its relay tapped for o when o is set (a
// twin that has a tap).
func openWorld(ctx context.Context, sc *Scenario, opt Options, o *oracle.Oracle) (sim.World, error) {
	switch {
	case opt.Remote != nil:
		return live.Open(ctx, live.Config{Seed: seedOf(sc, opt), FCM: sc.FCM, Loss: sc.Network.Loss, Remote: opt.Remote})
	case opt.Live:
		cfg := live.Config{Seed: seedOf(sc, opt), Relay: sc.Relay, FCM: sc.FCM, Loss: sc.Network.Loss, Logger: opt.Logger}
		if c := sc.Cluster; c != nil {
			cfg.Cluster = &live.ClusterConfig{Nodes: c.Nodes, Partitions: c.Partitions, LeaseTTL: c.LeaseTTL.D(), RelayBin: opt.RelayBin}
		}
		if o != nil {
			cfg.Tap = o.Tap
		}
		return live.Open(ctx, cfg)
	}
	w, err := NewVirtualWorld(sc, seedOf(sc, opt))
	if err != nil {
		return nil, err
	}
	if o != nil {
		w.SetTap(o.Tap) // before anything is provisioned
	}
	return w, nil
}

// NewVirtualWorld builds the virtual world a scenario runs on with a seed: the virtual twin, or
// the cluster twin when the scenario asks for a cluster.
func NewVirtualWorld(sc *Scenario, seed uint64) (*sim.VirtualWorld, error) {
	if sc.Cluster != nil {
		return sim.NewCluster(VirtualConfig(sc, seed), sim.ClusterConfig{Nodes: sc.Cluster.Nodes, Partitions: sc.Cluster.Partitions,
			LeaseTTL: sc.Cluster.LeaseTTL.D(), RenewEvery: sc.Cluster.RenewEvery.D()})
	}
	return sim.NewVirtual(VirtualConfig(sc, seed))
}

// VirtualConfig is the virtual world a scenario runs on with a seed. The property tests build
// their worlds with it too, so that a counterexample they write runs on the same world.
func VirtualConfig(sc *Scenario, seed uint64) sim.VirtualConfig {
	return sim.VirtualConfig{Seed: seed, Relay: sc.Relay, FCM: sc.FCM,
		Latency: sc.Network.Latency.D(), Jitter: sc.Network.Jitter.D(), Loss: sc.Network.Loss}
}

// NewOracle is the invariant oracle of a scenario's world: its relay rules and FCM behaviour.
func NewOracle(sc *Scenario) *oracle.Oracle {
	return oracle.New(oracle.Config{Relay: sc.Relay, FCM: sc.FCM})
}
