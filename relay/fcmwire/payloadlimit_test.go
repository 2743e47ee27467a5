package fcmwire

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// TestLargestAcceptedMessageFitsFCMsLimit: with every offlinePush field and ID at its longest,
// the relay refuses a message whose push could be over 4 KiB (4004, naming the total and the
// limit), and the push of the largest message it accepts passes fakefcm's own size check, normal
// and silent, through the HTTP v1 and the legacy API, with an explicit or a default title.
func TestLargestAcceptedMessageFitsFCMsLimit(t *testing.T) {
	const (
		app     = uint64(1400000001)
		appKey  = "0123456789abcdef-test-secret"
		certID  = int64(6768)
		pkg     = "com.example.im"
		project = "demo"
	)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	sender := strings.Repeat("s", relay.MaxIDBytes)
	group := strings.Repeat("g", relay.MaxIDBytes)
	android := relay.AndroidPush{
		ChannelID:   strings.Repeat("c", relay.MaxChannelIDBytes),
		Sound:       strings.Repeat("p", relay.MaxSoundBytes),
		ClickAction: "https://example.com/" + strings.Repeat("a", relay.MaxClickActionBytes-len("https://example.com/")),
	}
	// alice reads Chinese: the built-in zh group title is the longest default title.
	for _, title := range []string{strings.Repeat("T", relay.MaxPushFieldBytes), ""} {
		for _, silent := range []bool{false, true} {
			t.Run(fmt.Sprintf("title %d bytes, silent %v", len(title), silent), func(t *testing.T) {
				fcm, err := fakefcm.New(fakefcm.Config{Seed: 1})
				require.NoError(t, err)
				pr, err := fcm.CreateProject(fakefcm.ProjectSpec{ID: project, PackageNames: []string{pkg}})
				require.NoError(t, err)
				token, err := fcm.RegisterDevice(now, fakefcm.DeviceSpec{SenderID: pr.SenderID, PackageName: pkg})
				require.NoError(t, err)

				core, err := relay.New(relay.Config{}, nil)
				require.NoError(t, err)
				_, err = core.PutApp(now, relay.AppConfig{SDKAppID: app, SecretKey: secret.New(appKey)}, true)
				require.NoError(t, err)
				_, err = core.PutCertificate(now, relay.Certificate{ID: certID, SDKAppID: app, Platform: "google", PackageName: pkg,
					ServerKey: secret.New(pr.ServerKey)}, true)
				require.NoError(t, err)
				_, err = core.PutGroup(now, relay.Group{SDKAppID: app, ID: group, Name: strings.Repeat("n", relay.MaxNicknameBytes), Members: []string{sender, "alice"}})
				require.NoError(t, err)
				_, err = core.SetProfile(now, relay.Profile{SDKAppID: app, UserID: sender, Nickname: strings.Repeat("k", relay.MaxNicknameBytes)})
				require.NoError(t, err)
				// alice's phone logs in, reports its token and is killed.
				core.Open(now, 1)
				core.Receive(now, 1, relay.ClientFrame{Op: relay.OpLogin, ID: 1, SDKAppID: app, UserID: "alice", DeviceID: "alice-phone", Platform: "android", Locale: "zh-CN",
					UserSig: relay.MakeUserSig(appKey, relay.UserSigClaims{SDKAppID: app, UserID: "alice", Expire: now.Add(time.Hour).Unix()})})
				core.Receive(now, 1, relay.ClientFrame{Op: relay.OpSetPushToken, ID: 2, CertificateID: certID, Token: token})
				core.Closed(now, 1)
				core.TakeReady()

				// The longest ext the relay takes, and the refusal one byte past it.
				ext := relay.MaxPushFieldBytes
				for ; ext >= 0; ext-- {
					_, err = core.AdminSend(now, app, relay.SendRequest{From: sender, Group: group, Text: "x", OfflinePush: &relay.OfflinePush{
						Title: title, Desc: strings.Repeat("D", relay.MaxPushFieldBytes), Ext: strings.Repeat("e", ext), Android: android, Silent: silent}})
					if err == nil {
						break
					}
					require.ErrorIs(t, err, relay.ErrInvalid)
					require.Regexp(t, `could take 4\d{3} bytes`, err.Error())
					require.ErrorContains(t, err, "FCM's limit is 4096")
				}
				if title != "" {
					require.Less(t, ext, relay.MaxPushFieldBytes, "every field at its limit must not fit")
				}
				require.Positive(t, ext)

				var pushes []relay.Push
				for _, p := range core.TakeReady().Pushes {
					if p.Device.UserID == "alice" {
						pushes = append(pushes, p)
					}
				}
				require.Len(t, pushes, 1)
				p := pushes[0]
				require.Equal(t, silent, p.Silent)
				cert, ok := core.Certificate(certID)
				require.True(t, ok)

				// What the relay cannot know at send time, at its longest: the push is then the
				// worst case the relay budgets for, and it must be exactly at FCM's limit.
				p.Data["seq"] = strconv.FormatUint(math.MaxUint64, 10)
				p.Data["msgId"] = fmt.Sprintf("%d-%d", app, uint64(math.MaxUint64))
				p.NotificationCount = math.MaxInt32
				require.NoError(t, fcmCheck(fcm, project, cert, p), "the largest accepted message")
				if title == "" {
					// Everything fits beside the longest default title: the zh group title.
					require.Equal(t, relay.MaxPushFieldBytes, ext)
					require.Len(t, p.Title, 2*relay.MaxNicknameBytes+len("（）"))
					return
				}
				p.Data["ext"] += "e"
				require.ErrorContains(t, fcmCheck(fcm, project, cert, p), "the limit is 4096", "one byte more than the relay accepts")
			})
		}
	}
}

// fcmCheck sends p to fakefcm through both APIs and returns the first refusal.
func fcmCheck(fcm *fakefcm.Core, project string, cert relay.Certificate, p relay.Push) error {
	v1, derr := fakefcm.DecodeV1Request(V1Body(cert, p))
	if derr != nil {
		return derr
	}
	if r := fcm.Send(time.Time{}, fakefcm.SendRequest{API: fakefcm.APIV1, Project: project, Message: v1.Message}); r.Err != nil {
		return fmt.Errorf("v1: %v", r.Err)
	}
	legacy, lerr := fakefcm.DecodeLegacyRequest(LegacyBody(cert, p))
	if lerr != nil {
		return lerr
	}
	msg := legacy.Message
	msg.Token = legacy.Targets[0]
	if r := fcm.Send(time.Time{}, fakefcm.SendRequest{API: fakefcm.APILegacy, Project: project, Message: msg}); r.Err != nil {
		return fmt.Errorf("legacy: %v", r.Err)
	}
	return nil
}
