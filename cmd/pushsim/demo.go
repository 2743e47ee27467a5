package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/sim/live"
)

// runDemo starts fakefcm alone (sim/live's Stack) on a free loopback port, sends through it with
// the unmodified firebase Admin SDK and prints what each device received and what fakefcm
// recorded.
func runDemo(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("pushsim demo", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "fakefcm seed")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	st, err := live.StartStack(ctx, live.StackConfig{FCMOnly: true, FCMConfig: &fakefcm.Config{Seed: *seed}})
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "fakefcm listening on %s\n\n", st.FCMURL)

	cc := st.Control
	creds, err := cc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "pushlab-demo", PackageNames: []string{"com.example.im"}})
	if err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	phones := map[string]*demoPhone{}
	for _, name := range []string{"alice-phone", "bob-phone", "carol-phone"} {
		tok, err := cc.RegisterDevice(ctx, creds.SenderID, "com.example.im")
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		phones[name] = &demoPhone{name: name, token: tok}
	}
	if err := phones["alice-phone"].connect(ctx, cc); err != nil {
		return err
	}
	defer phones["alice-phone"].close()
	if err := cc.Uninstall(ctx, phones["carol-phone"].token); err != nil {
		return err
	}

	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: creds.ProjectID},
		option.WithCredentialsJSON(creds.ServiceAccount), option.WithEndpoint(st.FCMURL+"/v1"))
	if err != nil {
		return fmt.Errorf("firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return fmt.Errorf("firebase messaging: %w", err)
	}
	send := func(phone, key, title, body string) {
		msg := &messaging.Message{
			Token:        phones[phone].token,
			Notification: &messaging.Notification{Title: title, Body: body},
			Android:      &messaging.AndroidConfig{Priority: "high", CollapseKey: key},
		}
		name, err := client.Send(ctx, msg)
		result := name
		if err != nil {
			result = "error: " + describeSDKError(err)
		}
		fmt.Fprintf(stdout, "send to %-12s %-18q -> %s\n", phone, body, result)
	}
	send("alice-phone", "c2c_bob", "bob", "hi alice")
	send("bob-phone", "c2c_alice", "alice", "are you there?")
	send("bob-phone", "c2c_alice", "alice", "hello??")
	send("bob-phone", "group_team", "team", "standup in 5")
	send("carol-phone", "c2c_alice", "alice", "carol uninstalled")

	fmt.Fprintln(stdout, "\nbob-phone comes online (it was offline: same collapse key = only the newest)")
	if err := phones["bob-phone"].connect(ctx, cc); err != nil {
		return err
	}
	defer phones["bob-phone"].close()
	for _, p := range []*demoPhone{phones["alice-phone"], phones["bob-phone"]} {
		want := map[string]int{"alice-phone": 1, "bob-phone": 2}[p.name]
		if err := p.waitFor(want, 5*time.Second); err != nil {
			return err
		}
	}

	fmt.Fprintln(stdout, "\nwhat each device received:")
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  DEVICE\tTITLE\tBODY\tCOLLAPSE KEY")
	names := make([]string, 0, len(phones))
	for n := range phones {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := phones[n]
		if len(p.got) == 0 {
			fmt.Fprintf(tw, "  %s\t-\t-\t-\n", n)
		}
		for _, m := range p.got {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n, m.Notification.Title, m.Notification.Body, m.CollapseKey)
		}
	}
	tw.Flush()

	recs, err := settledRecords(ctx, cc, creds.ProjectID)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nwhat fakefcm recorded (GET /fakefcm/v1/messages):")
	tw = tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEQ\tDEVICE\tBODY\tFATE\tERROR")
	for _, r := range recs {
		body := ""
		if r.Payload != nil && r.Payload.Notification != nil {
			body = r.Payload.Notification.Body
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", r.Seq, phoneOf(phones, r.Token), body, r.Fate, r.Error)
	}
	return tw.Flush()
}

// settledRecords reads the project's records once the devices' acknowledgements have reached
// fakefcm (they travel on their own connections), giving up after two seconds.
func settledRecords(ctx context.Context, cc *control.Client, project string) ([]fakefcm.Record, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		recs, err := cc.Messages(ctx, fakefcm.RecordFilter{Project: project})
		if err != nil {
			return nil, err
		}
		inFlight := false
		for _, r := range recs {
			inFlight = inFlight || r.Fate == fakefcm.FateInFlight
		}
		if !inFlight || time.Now().After(deadline) {
			return recs, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// describeSDKError names the Admin SDK predicate an error satisfies.
func describeSDKError(err error) string {
	for _, c := range []struct {
		is   func(error) bool
		name string
	}{
		{messaging.IsUnregistered, "UNREGISTERED (messaging.IsUnregistered)"},
		{messaging.IsInvalidArgument, "INVALID_ARGUMENT (messaging.IsInvalidArgument)"},
		{messaging.IsSenderIDMismatch, "SENDER_ID_MISMATCH (messaging.IsSenderIDMismatch)"},
	} {
		if c.is(err) {
			return c.name
		}
	}
	return err.Error()
}

func phoneOf(phones map[string]*demoPhone, token string) string {
	for n, p := range phones {
		if p.token == token {
			return n
		}
	}
	return "?"
}

// demoPhone is a device channel that acknowledges and keeps what it receives.
type demoPhone struct {
	name, token string
	ch          *control.DeviceChannel
	mu          sync.Mutex
	got         []*fakefcm.RemoteMessage
	arrived     chan struct{}
}

func (p *demoPhone) connect(ctx context.Context, cc *control.Client) error {
	ch, err := cc.Connect(ctx, p.token)
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.ch, p.arrived = ch, make(chan struct{}, 16)
	go func() {
		for {
			f, err := ch.Receive()
			if err != nil {
				return
			}
			if f.Message != nil {
				_ = ch.Ack(f.Message.MessageID)
				p.mu.Lock()
				p.got = append(p.got, f.Message)
				p.mu.Unlock()
				p.arrived <- struct{}{}
			}
		}
	}()
	return nil
}

func (p *demoPhone) waitFor(n int, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		p.mu.Lock()
		have := len(p.got)
		p.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-p.arrived:
		case <-deadline:
			return fmt.Errorf("%s: %d of %d messages after %v", p.name, have, n, limit)
		}
	}
}

func (p *demoPhone) close() {
	if p.ch != nil {
		p.ch.Close()
	}
}
