package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/lab"
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim/live"
)

// Development credentials of pushsim serve: not secrets, documented in the README, for manual
// clients on a developer's machine. Override them with the flags or environment variables.
const (
	devAppSecret = "pushsim-dev-app-secret-0123456789"
	devAdminKey  = "pushsim-dev-admin-key-0123456789"
)

// runServe runs a relay and a fakefcm (the embedded stack of sim/live) on fixed ports with a
// default app and certificate, for manual clients.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	relayAddr := fs.String("relay-listen", "127.0.0.1:4100", "relay address")
	fcmAddr := fs.String("fcm-listen", "127.0.0.1:4000", "fakefcm address")
	db := fs.String("db", filepath.Join("out", "serve-relay.db"), "relay SQLite file")
	appSecret := fs.String("app-secret", envOr("PUSHSIM_APP_SECRET", devAppSecret), "secret of app 1400000001 (default $PUSHSIM_APP_SECRET or a development value)")
	adminKey := fs.String("admin-key", envOr("PUSHLAB_ADMIN_KEY", devAdminKey), "relay admin key (default $PUSHLAB_ADMIN_KEY or a development value)")
	labAddr := fs.String("lab-listen", "127.0.0.1:4200", "device lab address (a page that drives simulated phones against this relay); empty for none")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	st, err := live.StartStack(ctx, live.StackConfig{FCMConfig: &fakefcm.Config{Seed: 1}, DB: *db,
		RelayAddr: *relayAddr, FCMAddr: *fcmAddr, AdminKey: *adminKey, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()

	creds, err := st.Control.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "pushsim-serve", PackageNames: []string{scenarios.DefaultPackage}})
	if err != nil {
		return fmt.Errorf("create fakefcm project: %w", err)
	}
	app := relay.AppConfig{SDKAppID: scenarios.DefaultSDKAppID, Name: "pushsim", SecretKey: secret.New(*appSecret)}
	if err := st.Admin.PutApp(ctx, app); err != nil {
		return err
	}
	if err := st.Admin.PutCertificate(ctx, relay.Certificate{SDKAppID: scenarios.DefaultSDKAppID, ID: scenarios.DefaultCertificate, SenderID: creds.SenderID,
		PackageName: scenarios.DefaultPackage, ServiceAccount: secret.New(string(creds.ServiceAccount)), Endpoint: st.FCMURL}); err != nil {
		return err
	}
	labURL := ""
	if *labAddr != "" {
		stop, url, err := startLab(ctx, st, app, creds.SenderID, *labAddr, log)
		if err != nil {
			return err
		}
		defer stop()
		labURL = url
	}
	fmt.Fprintf(stdout, "relay    %s  (WebSocket %s/v1/ws, admin key from --admin-key)\n", st.RelayURL, st.RelayURL)
	fmt.Fprintf(stdout, "console  %s/console/  (sign in with the admin key)\n", st.RelayURL)
	fmt.Fprintf(stdout, "fakefcm  %s\n", st.FCMURL)
	fmt.Fprintf(stdout, "app %d, certificate %d (package %s, sender ID %s)\n", scenarios.DefaultSDKAppID, scenarios.DefaultCertificate, scenarios.DefaultPackage, creds.SenderID)
	fmt.Fprintf(stdout, "make a UserSig: pushsim usersig --app %d --user alice --secret \"$PUSHSIM_APP_SECRET\"\n", scenarios.DefaultSDKAppID)
	fmt.Fprintln(stdout, "register a phone: curl -s -XPOST "+st.FCMURL+"/fakefcm/v1/devices -d '{\"senderId\":\""+creds.SenderID+"\",\"packageName\":\""+scenarios.DefaultPackage+"\"}'")
	if labURL != "" {
		fmt.Fprintf(stdout, "lab      %s  (device lab: simulated phones against this relay, in a browser)\n", labURL)
	}
	fmt.Fprintln(stdout, "Ctrl-C stops them.")
	select {
	case <-ctx.Done():
	case <-st.RelayDone():
		return st.Relay().Err()
	}
	return nil
}

// startLab serves the device lab on addr: simulated phones of app, driven through the live twin
// of the world port on the stack. It answers the lab's URL and the function that stops it.
func startLab(ctx context.Context, st *live.Stack, app relay.AppConfig, senderID, addr string, log *slog.Logger) (stop func(), url string, err error) {
	w, err := live.Open(ctx, live.Config{Stack: st, Seed: 1, Logger: log})
	if err != nil {
		return nil, "", fmt.Errorf("device lab: %w", err)
	}
	// The world reads the push trace of the apps it knows: the lab's phones are app's.
	if err := w.AddApp(app); err != nil {
		_ = w.Close()
		return nil, "", fmt.Errorf("device lab: %w", err)
	}
	l, err := lab.New(lab.Config{World: w, App: app.SDKAppID, AppSecret: app.SecretKey, Certificate: scenarios.DefaultCertificate,
		SenderID: senderID, Package: scenarios.DefaultPackage, Logger: log})
	if err != nil {
		_ = w.Close()
		return nil, "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = l.Close()
		_ = w.Close()
		return nil, "", fmt.Errorf("device lab listen %s: %w", addr, err)
	}
	serving := httpserver.ServeLogged(ln, l.Handler(), l.Close, log)
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = serving.Shutdown(sctx)
		_ = w.Close()
	}
	return stop, "http://" + ln.Addr().String() + "/", nil
}

// runUserSig makes a UserSig.
func runUserSig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim usersig", flag.ContinueOnError)
	fs.SetOutput(stderr)
	app := fs.Uint64("app", scenarios.DefaultSDKAppID, "SDKAppID")
	user := fs.String("user", "", "user ID")
	sec := fs.String("secret", os.Getenv("PUSHSIM_APP_SECRET"), "the app's secret key (default $PUSHSIM_APP_SECRET)")
	ttl := fs.Duration("expire", 24*60*60*1e9, "how long the UserSig is valid")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *user == "" || *sec == "" {
		return &exitError{2, fmt.Errorf("--user and --secret are required")}
	}
	fmt.Fprintln(stdout, relay.MakeUserSig(*sec, relay.UserSigClaims{SDKAppID: *app, UserID: *user, Expire: nowUnix() + int64(ttl.Seconds())}))
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
