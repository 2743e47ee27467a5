package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// Catalog carries a change of the relay's catalog — apps, certificates, groups and certificate
// checks, which every partition's core holds — from the node that made it (the owner of partition
// CatalogPartition) to every other node, which applies it to each core it runs. Each core then
// does its own partition's part (deleting an app ends the logins of its users there) and records
// it under its own epoch; the records are idempotent puts and deletes.
//
// Input is one of relay.InputPutApp, InputDeleteApp, InputPutCertificate,
// InputDeleteCertificate, InputPutGroup, InputCertificateChecked. Unlike every other encoding in
// pushlab, a Catalog carries the app secret and certificate credentials in clear: the bus is the
// cluster's own network, like the database that stores them, and a node cannot serve an app
// without them. Run NATS on a private network or with TLS.
type Catalog struct {
	// From names the node that made the change: it does not apply its own change twice.
	From  string
	Input relay.Input
}

// catalogWire is a Catalog as encoded: the input's fields its kind reads, secrets revealed.
type catalogWire struct {
	From   string             `json:"from"`
	Kind   relay.InputKind    `json:"kind"`
	App    uint64             `json:"app,omitempty"`
	CertID int64              `json:"certId,omitempty"`
	Create bool               `json:"create,omitempty"`
	Config *relay.AppConfig   `json:"config,omitempty"`
	Secret string             `json:"secret,omitempty"`
	Cert   *relay.Certificate `json:"cert,omitempty"`
	// ServiceAccount and ServerKey are Cert's credentials, revealed.
	ServiceAccount string             `json:"serviceAccount,omitempty"`
	ServerKey      string             `json:"serverKey,omitempty"`
	Group          *relay.Group       `json:"group,omitempty"`
	Check          *relay.CheckResult `json:"check,omitempty"`
}

// CatalogInput reports whether in is a catalog change, which a cluster applies on every core.
func CatalogInput(in relay.Input) bool {
	switch in.Kind {
	case relay.InputPutApp, relay.InputDeleteApp, relay.InputPutCertificate, relay.InputDeleteCertificate,
		relay.InputPutGroup, relay.InputCertificateChecked:
		return true
	}
	return false
}

// MarshalJSON encodes the change with its secrets revealed (see Catalog).
func (c Catalog) MarshalJSON() ([]byte, error) {
	in := c.Input
	if !CatalogInput(in) {
		return nil, fmt.Errorf("catalog: %s is not a catalog change", in.Kind)
	}
	w := catalogWire{From: c.From, Kind: in.Kind, App: in.App, CertID: in.CertID, Create: in.Create}
	switch in.Kind {
	case relay.InputPutApp:
		a := in.AppConfig
		w.Config, w.Secret = &a, a.SecretKey.Reveal()
	case relay.InputPutCertificate:
		cert := in.Cert
		w.Cert, w.ServiceAccount, w.ServerKey = &cert, cert.ServiceAccount.Reveal(), cert.ServerKey.Reveal()
	case relay.InputPutGroup:
		g := in.Group
		w.Group = &g
	case relay.InputCertificateChecked:
		ch := in.Check
		w.Check = &ch
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (c *Catalog) UnmarshalJSON(b []byte) error {
	var w catalogWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	in := relay.Input{Kind: w.Kind, App: w.App, CertID: w.CertID, Create: w.Create}
	if !CatalogInput(in) {
		return fmt.Errorf("catalog: %s is not a catalog change", in.Kind)
	}
	switch {
	case in.Kind == relay.InputPutApp && w.Config != nil:
		in.AppConfig = *w.Config
		in.AppConfig.SecretKey = secret.New(w.Secret)
	case in.Kind == relay.InputPutCertificate && w.Cert != nil:
		in.Cert = *w.Cert
		in.Cert.ServiceAccount, in.Cert.ServerKey = secret.New(w.ServiceAccount), secret.New(w.ServerKey)
	case in.Kind == relay.InputPutGroup && w.Group != nil:
		in.Group = *w.Group
	case in.Kind == relay.InputCertificateChecked && w.Check != nil:
		in.Check = *w.Check
	case in.Kind == relay.InputDeleteApp || in.Kind == relay.InputDeleteCertificate:
	default:
		return fmt.Errorf("catalog: %s without its body", in.Kind)
	}
	c.From, c.Input = w.From, in
	return nil
}
