package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim/live"
)

// summaryReasons is how many push-trace reasons the closing summary lists.
const summaryReasons = 6

// runRun plays scenario files and writes the reports; it exits 1 if any expectation failed.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	liveMode := fs.Bool("live", false, "run on real sockets and the real clock, against embedded servers (or --relay/--fcm)")
	relayURL := fs.String("relay", "", "a relay started elsewhere (the remote world), with --admin-key and, to watch its pushes, --fcm; without --fcm its apps and certificates must exist and pushes are judged from its push trace")
	fcmURL := fs.String("fcm", "", "the fakefcm the --relay's certificates point at")
	adminKey := fs.String("admin-key", os.Getenv("PUSHLAB_ADMIN_KEY"), "the running relay's admin key (default $PUSHLAB_ADMIN_KEY)")
	relayBin := fs.String("relay-bin", "", "with --live, the relay binary a scenario's cluster: runs as processes (default: next to pushsim, or on PATH)")
	seed := fs.Uint64("seed", 1, "seed of the virtual mode's draws: the same seed replays the same run")
	out := fs.String("out", "out", "folder for report.json, junit.xml and report.html")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() == 0 {
		return &exitError{2, errors.New("name scenario files or folders, such as: pushsim run scenarios/library")}
	}
	opt := scenarios.Options{Seed: *seed, Live: *liveMode, RelayBin: *relayBin}
	fs.Visit(func(f *flag.Flag) { opt.SeedGiven = opt.SeedGiven || f.Name == "seed" })
	if *relayURL != "" || *fcmURL != "" {
		opt.Remote = &live.Remote{RelayURL: *relayURL, FCMURL: *fcmURL, AdminKey: *adminKey}
	}
	if err := opt.Validate(); err != nil {
		return &exitError{2, err}
	}
	files, err := scenarios.Expand(fs.Args())
	if err != nil {
		return &exitError{2, err}
	}
	var scs []*scenarios.Scenario
	var bad []string
	for _, f := range files {
		sc, err := scenarios.LoadEnv(f, os.LookupEnv)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		scs = append(scs, sc)
	}
	if len(bad) > 0 {
		return &exitError{2, errors.New(strings.Join(bad, "\n"))}
	}
	mode := opt.Twin()
	// Every scenario is checked against the twin before any runs: a setting it cannot honour is
	// refused here, with its place in the file, never ignored.
	checker, err := scenarios.NewChecker(ctx, opt)
	if err != nil {
		return &exitError{2, err}
	}
	opt.Checker = checker // read once for the batch, not again for each scenario
	refused := map[*scenarios.Scenario][]error{}
	for _, sc := range scs {
		if errs := checker.Check(sc); len(errs) > 0 {
			refused[sc] = errs
			fmt.Fprintf(stderr, "not run on the %s world: %s\n", mode, errors.Join(errs...))
		}
	}
	// The replay command names the seed, unless a scenario pins its own and none was asked for:
	// the default seed would then be refused by it.
	seedFlag := fmt.Sprintf(" --seed %d", *seed)
	if !opt.SeedGiven && slices.ContainsFunc(scs, func(sc *scenarios.Scenario) bool { return sc.Replay != nil && sc.Replay.Seed != nil }) {
		seedFlag = ""
	}
	replay := fmt.Sprintf("pushsim run%s %s", seedFlag, strings.Join(fs.Args(), " "))
	switch mode {
	case "live":
		replay = fmt.Sprintf("pushsim run --live%s %s", seedFlag, strings.Join(fs.Args(), " "))
	case "remote":
		fcm := ""
		if *fcmURL != "" {
			fcm = " --fcm " + *fcmURL
		}
		replay = fmt.Sprintf("pushsim run --relay %s%s%s %s", *relayURL, fcm, seedFlag, strings.Join(fs.Args(), " "))
	}
	rep := &reports.Report{Schema: reports.SchemaVersion, Run: reports.Run{
		Seed: *seed, Mode: mode, Command: "pushsim run " + strings.Join(maskAdminKey(args), " "), Replay: replay,
		Version: version(), GoVersion: runtime.Version(), Host: hostname(), Started: time.Now().UTC(),
		ScenarioWallSeconds: map[string]float64{},
	}}
	progress := newProgress(stderr, len(scs), mode != "virtual")
	for _, sc := range scs {
		start := time.Now()
		var res reports.Scenario
		if errs := refused[sc]; errs != nil {
			res = scenarios.Refused(sc, mode, errs)
		} else {
			res = scenarios.Run(ctx, sc, opt)
		}
		rep.Run.ScenarioWallSeconds[sc.File] = time.Since(start).Seconds()
		rep.Scenarios = append(rep.Scenarios, res)
		wall := time.Since(start)
		progress.done(res, func() { printScenario(stdout, res, wall) })
		if ctx.Err() != nil {
			break
		}
	}
	progress.finish()
	rep.Run.Finished = time.Now().UTC()
	rep.Run.WallSeconds = rep.Run.Finished.Sub(rep.Run.Started).Seconds()
	reports.Complete(rep)
	if err := reports.WriteAll(*out, rep); err != nil {
		return fmt.Errorf("write reports: %w", err)
	}
	fmt.Fprintln(stdout)
	if err := reports.WriteSummary(stdout, rep, summaryReasons); err != nil {
		return err
	}
	t := rep.Totals
	notRun := ""
	if t.NotRun > 0 {
		notRun = fmt.Sprintf(", %d skipped (not run: the %s world cannot honour them)", t.NotRun, mode)
	}
	broken := ""
	if t.Violations > 0 {
		broken = fmt.Sprintf(", %d invariant(s) broken", t.Violations)
	}
	fmt.Fprintf(stdout, "\n%d passed, %d failed%s (%d of %d expectations held%s); reports in %s/\n", t.Passed, t.Failed, notRun, t.Held, t.Expectations, broken, *out)
	for _, s := range rep.Scenarios {
		if s.Oracle != nil && !s.Oracle.Ran {
			fmt.Fprintf(stdout, "invariants not checked: %s\n", s.Oracle.NotRunWhy)
			break
		}
	}
	if t.Failed > 0 {
		fmt.Fprintf(stdout, "seed %d; replay with: %s\n", *seed, replay)
	}
	if len(refused) > 0 {
		return &exitError{2, fmt.Errorf("%d scenario(s) not run: the %s world cannot honour their settings (listed above)", len(refused), mode)}
	}
	if t.Failed > 0 {
		return &exitError{1, fmt.Errorf("%d scenario(s) failed", t.Failed)}
	}
	return nil
}

// maskAdminKey is the command line with the admin key's value masked, for reports.
func maskAdminKey(args []string) []string { return maskFlags(args, "admin-key") }

// maskFlags is the command line with the values of the named flags masked (secrets, or URLs that
// may hold credentials), for reports.
func maskFlags(args []string, names ...string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		for _, n := range names {
			switch {
			case (a == "--"+n || a == "-"+n) && i+1 < len(out):
				out[i+1] = "***"
			case strings.HasPrefix(a, "--"+n+"=") || strings.HasPrefix(a, "-"+n+"="):
				out[i] = a[:strings.Index(a, "=")+1] + "***"
			}
		}
	}
	return out
}

// printScenario prints a line for the scenario and one per failure.
func printScenario(w io.Writer, s reports.Scenario, wall time.Duration) {
	status := "PASS"
	switch {
	case s.NotRun:
		status = "SKIP"
	case !s.Passed:
		status = "FAIL"
	}
	broken := ""
	if n := s.Totals.Violations; n > 0 {
		broken = fmt.Sprintf("; %d invariant(s) broken", n)
	}
	fmt.Fprintf(w, "%s  %s  (%s; %d/%d expectations%s; %s scenario time, %s wall)\n", status, s.Name, s.File,
		s.Totals.Held, s.Totals.Expectations, broken, time.Duration(s.DurationMs)*time.Millisecond, wall.Round(time.Millisecond))
	if s.Error != "" {
		fmt.Fprintf(w, "      %s\n", s.Error)
	}
	for _, st := range s.Steps {
		if st.Error != "" {
			fmt.Fprintf(w, "      %s:%d:%d: step %d (%s): %s\n", s.File, st.Line, st.Column, st.Index, st.Kind, st.Error)
		}
	}
	lines := map[int]reports.Step{}
	for _, st := range s.Steps {
		lines[st.Index] = st
	}
	for _, e := range s.Expectations {
		if !e.Held {
			st := lines[e.Step]
			fmt.Fprintf(w, "      %s:%d:%d: step %d: expected %s\n        seen: %s\n", s.File, st.Line, st.Column, e.Step, e.Text, e.Seen)
		}
	}
	if s.Oracle == nil {
		return
	}
	for _, v := range s.Oracle.Violations {
		where := s.File
		if st, ok := lines[v.Step]; ok {
			where = fmt.Sprintf("%s:%d:%d", s.File, st.Line, st.Column)
		}
		on := ""
		if v.Device != "" {
			on = " on " + v.Device
		}
		fmt.Fprintf(w, "      %s: %s, at %s%s: invariant broken: %s\n        %s\n", where, v.When(),
			time.Duration(v.AtMs)*time.Millisecond, on, v.Invariant, v.Evidence)
	}
}

// runValidate checks scenario files without running them.
func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() == 0 {
		return &exitError{2, errors.New("name scenario files or folders")}
	}
	files, err := scenarios.Expand(fs.Args())
	if err != nil {
		return &exitError{2, err}
	}
	bad := 0
	for _, f := range files {
		if _, err := scenarios.LoadEnv(f, os.LookupEnv); err != nil {
			fmt.Fprintln(stdout, err)
			bad++
			continue
		}
		fmt.Fprintf(stdout, "ok  %s\n", f)
	}
	if bad > 0 {
		return &exitError{2, fmt.Errorf("%d of %d file(s) invalid", bad, len(files))}
	}
	return nil
}

// runSchema prints the JSON Schema of scenario files.
func runSchema(_ context.Context, _ []string, stdout, _ io.Writer) error {
	b, err := scenarios.Schema()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return err
}

// version is the module version pushsim was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
