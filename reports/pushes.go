package reports

// Complete fills what the report derives from what was recorded: each scenario's pushes (linked
// once: a scenario that has them keeps them) and totals, then the run's totals. It is idempotent,
// so a report read back from JSON can be completed again before it is rendered.
func Complete(r *Report) {
	var lat []float64
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		var sl []float64
		s.Totals, sl = summarizeScenario(s)
		lat = append(lat, sl...)
	}
	summarizeRun(r, lat)
}

// LinkPushes follows each FCM message of the scenario to its device: its fate at fakefcm and
// its arrivals. A device's push event belongs to the message whose MessageID it carries; for
// records without one (reports of older runners), to the oldest message FCM accepted for that
// device, not yet linked, with the same title and body, sent before it arrived: FCM keeps each
// device's deliveries in order.
func LinkPushes(s *Scenario) []Push {
	out := make([]Push, len(s.FCM))
	byID := map[string]int{}
	for i, m := range s.FCM {
		out[i] = Push{FCMSeq: m.Seq, Device: m.Device, Title: m.Title, Body: m.Body, SentAtMs: m.ReceivedAtMs,
			Fate: m.Fate, FateAtMs: m.FateAtMs, Error: m.Error}
		if m.MessageID != "" {
			byID[m.Device+"\x00"+m.MessageID] = i
		}
	}
	for _, d := range s.Devices {
		// seen maps a message ID already linked on this device to its push, for duplicates.
		seen := map[string]int{}
		for _, e := range d.Events {
			if e.Kind != "push" {
				continue
			}
			i, ok := byID[d.ID+"\x00"+e.Detail]
			if !ok {
				i, ok = seen[e.Detail]
			}
			if !ok {
				i, ok = oldestUnlinked(s.FCM, out, d.ID, e)
			}
			if !ok {
				continue
			}
			seen[e.Detail] = i
			p := &out[i]
			p.Arrivals++
			if p.ArrivedAtMs != nil {
				continue
			}
			at := e.AtMs
			p.ArrivedAtMs = &at
			lat := at - p.SentAtMs
			if e.LatencyMs != nil {
				lat = *e.LatencyMs
			}
			p.LatencyMs = &lat
		}
	}
	return out
}

// oldestUnlinked finds the oldest message to device, not yet linked, that could have arrived as
// the push event e (pushes[i] follows fcm[i]).
func oldestUnlinked(fcm []FCMMessage, pushes []Push, device string, e Event) (int, bool) {
	for i, m := range fcm {
		if m.Device == device && m.MessageID == "" && pushes[i].Arrivals == 0 && arrivable(m.Fate) &&
			m.Title == e.Title && m.Body == e.Text && m.ReceivedAtMs <= e.AtMs {
			return i, true
		}
	}
	return 0, false
}

// arrivable says whether a message with this fate may have reached its device: any message
// FCM accepted, since a message can arrive and still end otherwise (the app uninstalled before
// its acknowledgement, a redelivered copy collapsed).
func arrivable(fate string) bool {
	switch fate {
	case "rejected", "validate-only", "no-subscribers":
		return false
	}
	return true
}
