package sim

import (
	"firebase.google.com/go/v4/messaging"

	"github.com/pushlab/pushlab/fakefcm"
)

// sdkToFakeFCM converts the Admin SDK's message into fakefcm's, field for field, as the SDK's
// JSON followed by fakefcm's decoder would (TestPropertySDKConversionMatchesTheWire holds it to
// that). It covers what the relay's sender sets.
func sdkToFakeFCM(m *messaging.Message) fakefcm.Message {
	out := fakefcm.Message{Token: m.Token, Topic: m.Topic, Condition: m.Condition, Data: m.Data}
	if n := m.Notification; n != nil {
		out.Notification = &fakefcm.Notification{Title: n.Title, Body: n.Body, Image: n.ImageURL}
	}
	if a := m.Android; a != nil {
		oa := &fakefcm.AndroidConfig{Priority: a.Priority, TTL: a.TTL, CollapseKey: a.CollapseKey,
			RestrictedPackageName: a.RestrictedPackageName, Data: a.Data}
		if n := a.Notification; n != nil {
			oa.Notification = &fakefcm.AndroidNotification{Title: n.Title, Body: n.Body, Icon: n.Icon, Color: n.Color,
				Sound: n.Sound, Tag: n.Tag, ClickAction: n.ClickAction, ChannelID: n.ChannelID, Image: n.ImageURL,
				NotificationCount: n.NotificationCount}
		}
		out.Android = oa
	}
	return out
}
