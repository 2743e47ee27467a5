package server

import (
	"encoding/json"
	"slices"
	"strconv"

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
	w := jsonWriter{b: b, ok: true}
	w.raw(`{"type":`)
	w.str(string(f.Type))
	if m := f.Message; m != nil {
		w.raw(`,"message":{"messageId":`)
		w.str(m.MessageID)
		w.raw(`,"from":`)
		w.str(m.From)
		w.optStr(`,"collapseKey":`, m.CollapseKey)
		w.raw(`,"priority":`)
		w.str(m.Priority)
		w.raw(`,"ttl":`)
		w.b = strconv.AppendInt(w.b, m.TTLSeconds, 10)
		w.raw(`,"sentTime":`)
		w.b = strconv.AppendInt(w.b, m.SentTime, 10)
		if len(m.Data) > 0 {
			w.raw(`,"data":{`)
			var keys [16]string
			ks := keys[:0]
			for k := range m.Data {
				ks = append(ks, k)
			}
			slices.Sort(ks)
			for i, k := range ks {
				if i > 0 {
					w.raw(`,`)
				}
				w.str(k)
				w.raw(`:`)
				w.str(m.Data[k])
			}
			w.raw(`}`)
		}
		if n := m.Notification; n != nil {
			w.raw(`,"notification":{`)
			mark := len(w.b)
			w.optStr(`,"title":`, n.Title)
			w.optStr(`,"body":`, n.Body)
			w.optStr(`,"icon":`, n.Icon)
			w.optStr(`,"color":`, n.Color)
			w.optStr(`,"sound":`, n.Sound)
			w.optStr(`,"tag":`, n.Tag)
			w.optStr(`,"clickAction":`, n.ClickAction)
			w.optStr(`,"channelId":`, n.ChannelID)
			w.optStr(`,"image":`, n.Image)
			if n.NotificationCount != nil {
				w.raw(`,"notificationCount":`)
				w.b = strconv.AppendInt(w.b, int64(*n.NotificationCount), 10)
			}
			if len(w.b) > mark {
				w.b = append(w.b[:mark], w.b[mark+1:]...) // the first member's comma
			}
			w.raw(`}`)
		}
		w.raw(`}`)
	}
	w.raw(`}`)
	return w.b, w.ok
}

// jsonWriter appends JSON text; ok turns false at a string that is not valid UTF-8.
type jsonWriter struct {
	b  []byte
	ok bool
}

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

// str appends s quoted as encoding/json quotes it.
func (w *jsonWriter) str(s string) {
	var ok bool
	if w.b, ok = jsonappend.String(w.b, s); !ok {
		w.ok = false
	}
}

// optStr appends a member named by prefix (its comma, name and colon) when s is not empty, as
// omitempty does.
func (w *jsonWriter) optStr(prefix, s string) {
	if s != "" {
		w.raw(prefix)
		w.str(s)
	}
}
