package server

import (
	"encoding/json"
	"slices"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/jsonappend"
)

// appendDeviceFrame appends f as the JSON text a device channel carries, and a newline: the
// members encoding/json writes for it (the same names, the same omissions, data's keys sorted),
// written by hand because a device channel writes one frame per push and a reflective encoder
// costs several times as much. A string that is not valid UTF-8, which encoding/json would have
// to repair, sends the whole frame through encoding/json instead.
func appendDeviceFrame(b []byte, f fakefcm.DeviceFrame) ([]byte, error) {
	start := len(b)
	out, ok := appendDeviceFrameFast(b, f)
	if ok {
		return append(out, '\n'), nil
	}
	j, err := json.Marshal(f)
	if err != nil {
		return b[:start], err
	}
	return append(append(b[:start], j...), '\n'), nil
}

// appendDeviceFrameFast is appendDeviceFrame's hand-written encoder; false when a string needs
// encoding/json's repair.
func appendDeviceFrameFast(b []byte, f fakefcm.DeviceFrame) ([]byte, bool) {
	w := jsonappend.Writer{B: b}
	w.Raw(`{"type":`)
	w.Str(string(f.Type))
	if m := f.Message; m != nil {
		w.Raw(`,"message":{"messageId":`)
		w.Str(m.MessageID)
		w.Raw(`,"from":`)
		w.Str(m.From)
		w.OptStr(`,"collapseKey":`, m.CollapseKey)
		w.Raw(`,"priority":`)
		w.Str(m.Priority)
		w.Raw(`,"ttl":`)
		w.Int(m.TTLSeconds)
		w.Raw(`,"sentTime":`)
		w.Int(m.SentTime)
		if len(m.Data) > 0 {
			w.Raw(`,"data":{`)
			var keys [16]string
			ks := keys[:0]
			for k := range m.Data {
				ks = append(ks, k)
			}
			slices.Sort(ks)
			for i, k := range ks {
				if i > 0 {
					w.Raw(`,`)
				}
				w.Str(k)
				w.Raw(`:`)
				w.Str(m.Data[k])
			}
			w.Raw(`}`)
		}
		if n := m.Notification; n != nil {
			w.Raw(`,"notification":{`)
			mark := len(w.B)
			w.OptStr(`,"title":`, n.Title)
			w.OptStr(`,"body":`, n.Body)
			w.OptStr(`,"icon":`, n.Icon)
			w.OptStr(`,"color":`, n.Color)
			w.OptStr(`,"sound":`, n.Sound)
			w.OptStr(`,"tag":`, n.Tag)
			w.OptStr(`,"clickAction":`, n.ClickAction)
			w.OptStr(`,"channelId":`, n.ChannelID)
			w.OptStr(`,"image":`, n.Image)
			if n.NotificationCount != nil {
				w.Raw(`,"notificationCount":`)
				w.Int(int64(*n.NotificationCount))
			}
			if len(w.B) > mark {
				w.B = append(w.B[:mark], w.B[mark+1:]...) // the first member's comma
			}
			w.Raw(`}`)
		}
		w.Raw(`}`)
	}
	w.Raw(`}`)
	return w.B, w.OK()
}
