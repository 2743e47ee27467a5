package relay

import "fmt"

// CompactRecords drops the records of a batch that a later record of the same batch overwrites,
// for the durable stores: of the puts and deletes of one session, binding, push or counter only
// the last counts, so only the last is written. (Busy relays write a device's session several times a batch: unread
// counts, caps.) Records of other kinds, and batches that delete an app, are kept whole.
func CompactRecords(records []Record) []Record {
	type key struct {
		kind string
		dev  DeviceKey
		id   uint64
		name string
	}
	keyOf := func(r Record) (key, bool) {
		switch r := r.(type) {
		case PutSession:
			return key{kind: "session", dev: r.Session.Key}, true
		case DeleteSession:
			return key{kind: "session", dev: r.Key}, true
		case PutBinding:
			return key{kind: "binding", dev: r.Binding.Key}, true
		case DeleteBinding:
			return key{kind: "binding", dev: r.Key}, true
		case PutPush:
			return key{kind: "push", id: r.Push.Push.ID}, true
		case DeletePush:
			return key{kind: "push", id: r.ID}, true
		case PutCounter:
			return key{kind: "counter", name: r.Name}, true
		case DeleteApp:
			return key{kind: "app"}, true
		}
		return key{}, false
	}
	seen := map[key]bool{}
	keep := make([]bool, len(records))
	dropped := 0
	for i := len(records) - 1; i >= 0; i-- {
		k, ok := keyOf(records[i])
		if ok && k.kind == "app" {
			return records
		}
		keep[i] = !ok || !seen[k]
		if ok {
			seen[k] = true
		}
		if !keep[i] {
			dropped++
		}
	}
	if dropped == 0 {
		return records
	}
	out := make([]Record, 0, len(records)-dropped)
	for i, r := range records {
		if keep[i] {
			out = append(out, r)
		}
	}
	return out
}

// DescribeRecord names a record and its key, for a store's errors.
func DescribeRecord(r Record) string {
	dev := func(k DeviceKey) string { return fmt.Sprintf("%d/%s/%s", k.SDKAppID, k.UserID, k.DeviceID) }
	switch r := r.(type) {
	case PutApp:
		return fmt.Sprintf("PutApp %d", r.App.SDKAppID)
	case DeleteApp:
		return fmt.Sprintf("DeleteApp %d", r.SDKAppID)
	case PutCertificate:
		return fmt.Sprintf("PutCertificate %d", r.Cert.ID)
	case DeleteCertificate:
		return fmt.Sprintf("DeleteCertificate %d", r.ID)
	case PutSession:
		return "PutSession " + dev(r.Session.Key)
	case DeleteSession:
		return "DeleteSession " + dev(r.Key)
	case PutBinding:
		return "PutBinding " + dev(r.Binding.Key)
	case DeleteBinding:
		return "DeleteBinding " + dev(r.Key)
	case PutMessage:
		return fmt.Sprintf("PutMessage %d/%s/%d", r.User.SDKAppID, r.User.UserID, r.Msg.Seq)
	case TrimInbox:
		return fmt.Sprintf("TrimInbox %d/%s through %d", r.User.SDKAppID, r.User.UserID, r.Through)
	case PutGroup:
		return fmt.Sprintf("PutGroup %d/%s", r.Group.SDKAppID, r.Group.ID)
	case PutReceiveOpt:
		return fmt.Sprintf("PutReceiveOpt %d/%s %s=%s", r.User.SDKAppID, r.User.UserID, r.Conv, r.Opt)
	case PutPush:
		return fmt.Sprintf("PutPush %d", r.Push.Push.ID)
	case DeletePush:
		return fmt.Sprintf("DeletePush %d", r.ID)
	case PutCounter:
		return fmt.Sprintf("PutCounter %s", r.Name)
	case PutPushSettings:
		return fmt.Sprintf("PutPushSettings %d/%s enabled=%t", r.User.SDKAppID, r.User.UserID, r.Settings.Enabled)
	case PutProfile:
		return fmt.Sprintf("PutProfile %d/%s", r.Profile.SDKAppID, r.Profile.UserID)
	case AppendTrace:
		return fmt.Sprintf("AppendTrace of %d entries", len(r.Entries))
	default:
		return fmt.Sprintf("%T", r)
	}
}
