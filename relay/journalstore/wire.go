package journalstore

import (
	"fmt"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// frame is what one frame of the journal holds: a batch's records, or a pass of the trace's
// pruning (which changes what the store holds as a batch does).
type frame struct {
	Records []wireRecord
	Prune   *relay.TracePrune
	// Snapshot marks the frames a compaction wrote: what they add up to is the journal's size
	// when it was last rewritten, which the next compaction waits for it to double.
	Snapshot bool
}

// wireRecord is one record as gob encodes it: Kind says which, and at most the field of that
// kind is set (gob leaves out a record whose fields are all zero, a DeleteApp of app 0 say, so
// the field alone would not tell). A field for each kind keeps the journal free of gob's registry
// of interface types, and a kind this code does not know fails to encode instead of being
// written in a form it could not read back.
type wireRecord struct {
	Kind              kind
	PutApp            *wireApp
	DeleteApp         *relay.DeleteApp
	PutCertificate    *wireCertificate
	DeleteCertificate *relay.DeleteCertificate
	PutSession        *relay.PutSession
	DeleteSession     *relay.DeleteSession
	PutBinding        *relay.PutBinding
	DeleteBinding     *relay.DeleteBinding
	PutMessage        *relay.PutMessage
	TrimInbox         *relay.TrimInbox
	PutGroup          *relay.PutGroup
	PutReceiveOpt     *relay.PutReceiveOpt
	PutPush           *relay.PutPush
	DeletePush        *relay.DeletePush
	PutCounter        *relay.PutCounter
	PutPushSettings   *relay.PutPushSettings
	PutProfile        *relay.PutProfile
	AppendTrace       *relay.AppendTrace
}

// kind numbers the kinds of record in the journal. The numbers are the file format's: a kind
// keeps its number, and a new kind takes the next.
type kind uint8

const (
	kindPutApp kind = iota + 1
	kindDeleteApp
	kindPutCertificate
	kindDeleteCertificate
	kindPutSession
	kindDeleteSession
	kindPutBinding
	kindDeleteBinding
	kindPutMessage
	kindTrimInbox
	kindPutGroup
	kindPutReceiveOpt
	kindPutPush
	kindDeletePush
	kindPutCounter
	kindPutPushSettings
	kindPutProfile
	kindAppendTrace
)

// wireApp is an app as gob encodes it: gob cannot encode a secret.Secret, so the secret key is
// a string here. The journal is the relay's own file, as the SQLite store's database is, and
// holds the key as the SQL stores' columns do. TestWireFormsMirrorTheirRecords fails when
// relay.AppConfig gains a field this lacks.
type wireApp struct {
	SDKAppID      uint64
	Name          string
	SecretKey     string
	LoginPolicy   relay.LoginPolicy
	Caps          relay.Caps
	DefaultLocale string
	PushTemplates map[string]relay.PushTemplate
}

// wireCertificate is a certificate as gob encodes it, its two secrets as strings (wireApp).
type wireCertificate struct {
	ID             int64
	SDKAppID       uint64
	Platform       string
	PackageName    string
	SenderID       string
	ServiceAccount string
	ServerKey      string
	Endpoint       string
	ChannelID      string
	Status         relay.CertStatus
	Check          relay.CertCheck
}

func appToWire(a relay.AppConfig) *wireApp {
	return &wireApp{SDKAppID: a.SDKAppID, Name: a.Name, SecretKey: a.SecretKey.Reveal(), LoginPolicy: a.LoginPolicy,
		Caps: a.Caps, DefaultLocale: a.DefaultLocale, PushTemplates: a.PushTemplates}
}

func certificateToWire(c relay.Certificate) *wireCertificate {
	return &wireCertificate{ID: c.ID, SDKAppID: c.SDKAppID, Platform: c.Platform, PackageName: c.PackageName,
		SenderID: c.SenderID, ServiceAccount: c.ServiceAccount.Reveal(), ServerKey: c.ServerKey.Reveal(),
		Endpoint: c.Endpoint, ChannelID: c.ChannelID, Status: c.Status, Check: c.Check}
}

// toWire converts a batch's records to their wire form. Records are values, but the pointers
// toWire takes are to copies of its own; their slices and maps are still the caller's, so the
// result must be encoded before the caller changes them.
func toWire(records []relay.Record) ([]wireRecord, error) {
	out := make([]wireRecord, len(records))
	for i, r := range records {
		w := &out[i]
		switch r := r.(type) {
		case relay.PutApp:
			w.Kind = kindPutApp
			w.PutApp = appToWire(r.App)
		case relay.DeleteApp:
			w.Kind = kindDeleteApp
			w.DeleteApp = &r
		case relay.PutCertificate:
			w.Kind = kindPutCertificate
			w.PutCertificate = certificateToWire(r.Cert)
		case relay.DeleteCertificate:
			w.Kind = kindDeleteCertificate
			w.DeleteCertificate = &r
		case relay.PutSession:
			w.Kind = kindPutSession
			w.PutSession = &r
		case relay.DeleteSession:
			w.Kind = kindDeleteSession
			w.DeleteSession = &r
		case relay.PutBinding:
			w.Kind = kindPutBinding
			w.PutBinding = &r
		case relay.DeleteBinding:
			w.Kind = kindDeleteBinding
			w.DeleteBinding = &r
		case relay.PutMessage:
			w.Kind = kindPutMessage
			w.PutMessage = &r
		case relay.TrimInbox:
			w.Kind = kindTrimInbox
			w.TrimInbox = &r
		case relay.PutGroup:
			w.Kind = kindPutGroup
			w.PutGroup = &r
		case relay.PutReceiveOpt:
			w.Kind = kindPutReceiveOpt
			w.PutReceiveOpt = &r
		case relay.PutPush:
			w.Kind = kindPutPush
			w.PutPush = &r
		case relay.DeletePush:
			w.Kind = kindDeletePush
			w.DeletePush = &r
		case relay.PutCounter:
			w.Kind = kindPutCounter
			w.PutCounter = &r
		case relay.PutPushSettings:
			w.Kind = kindPutPushSettings
			w.PutPushSettings = &r
		case relay.PutProfile:
			w.Kind = kindPutProfile
			w.PutProfile = &r
		case relay.AppendTrace:
			w.Kind = kindAppendTrace
			w.AppendTrace = &r
		default:
			return nil, fmt.Errorf("encode record %d of %d: unknown record type %T: the journal store does not know how to keep it", i+1, len(records), r)
		}
	}
	return out, nil
}

// fromWire converts records read back from the journal.
func fromWire(ws []wireRecord) ([]relay.Record, error) {
	out := make([]relay.Record, len(ws))
	for i, w := range ws {
		var r relay.Record
		switch w.Kind {
		case kindPutApp:
			r = relay.PutApp{App: appFromWire(val(w.PutApp))}
		case kindDeleteApp:
			r = val(w.DeleteApp)
		case kindPutCertificate:
			r = relay.PutCertificate{Cert: certificateFromWire(val(w.PutCertificate))}
		case kindDeleteCertificate:
			r = val(w.DeleteCertificate)
		case kindPutSession:
			r = val(w.PutSession)
		case kindDeleteSession:
			r = val(w.DeleteSession)
		case kindPutBinding:
			r = val(w.PutBinding)
		case kindDeleteBinding:
			r = val(w.DeleteBinding)
		case kindPutMessage:
			r = val(w.PutMessage)
		case kindTrimInbox:
			r = val(w.TrimInbox)
		case kindPutGroup:
			r = val(w.PutGroup)
		case kindPutReceiveOpt:
			r = val(w.PutReceiveOpt)
		case kindPutPush:
			r = val(w.PutPush)
		case kindDeletePush:
			r = val(w.DeletePush)
		case kindPutCounter:
			r = val(w.PutCounter)
		case kindPutPushSettings:
			r = val(w.PutPushSettings)
		case kindPutProfile:
			r = val(w.PutProfile)
		case kindAppendTrace:
			r = val(w.AppendTrace)
		default:
			return nil, fmt.Errorf("record %d of %d: kind %d, which this relay does not know (was the journal written by a newer one?)", i+1, len(ws), w.Kind)
		}
		out[i] = r
	}
	return out, nil
}

// val is what p points to, or T's zero value for nil: gob leaves out a pointer to a value whose
// fields are all zero.
func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func appFromWire(w wireApp) relay.AppConfig {
	return relay.AppConfig{SDKAppID: w.SDKAppID, Name: w.Name, SecretKey: secret.New(w.SecretKey), LoginPolicy: w.LoginPolicy,
		Caps: w.Caps, DefaultLocale: w.DefaultLocale, PushTemplates: w.PushTemplates}
}

func certificateFromWire(w wireCertificate) relay.Certificate {
	return relay.Certificate{ID: w.ID, SDKAppID: w.SDKAppID, Platform: w.Platform, PackageName: w.PackageName,
		SenderID: w.SenderID, ServiceAccount: secret.New(w.ServiceAccount), ServerKey: secret.New(w.ServerKey),
		Endpoint: w.Endpoint, ChannelID: w.ChannelID, Status: w.Status, Check: w.Check}
}
