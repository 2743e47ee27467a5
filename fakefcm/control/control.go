// Package control holds the wire types of fakefcm's control API (/fakefcm/v1/…) and a Go client
// for it and for the device channel, for tests, the simulator's live mode and tools.
package control

import (
	"encoding/json"

	"github.com/pushlab/pushlab/fakefcm"
)

// CreateProjectRequest is the body of POST /fakefcm/v1/projects.
type CreateProjectRequest struct {
	ProjectID    string   `json:"projectId"`
	SenderID     string   `json:"senderId,omitempty"`
	PackageNames []string `json:"packageNames,omitempty"`
}

// ProjectCredentials answers a project's creation: its legacy server key and a service-account
// JSON whose token_uri points at the fakefcm that issued it. These are secrets: fakefcm shows
// them in this answer only.
type ProjectCredentials struct {
	ProjectID      string          `json:"projectId"`
	SenderID       string          `json:"senderId"`
	ServerKey      string          `json:"serverKey"`
	ServiceAccount json.RawMessage `json:"serviceAccount"`
}

// ProjectSummary is a project as GET /fakefcm/v1/projects lists it: no secrets.
type ProjectSummary struct {
	ProjectID    string   `json:"projectId"`
	SenderID     string   `json:"senderId"`
	PackageNames []string `json:"packageNames"`
	ClientEmail  string   `json:"clientEmail"`
}

// ProjectList is the answer of GET /fakefcm/v1/projects.
type ProjectList struct {
	Projects []ProjectSummary `json:"projects"`
}

// RegisterDeviceRequest is the body of POST /fakefcm/v1/devices (the app's getToken).
type RegisterDeviceRequest struct {
	SenderID    string `json:"senderId"`
	PackageName string `json:"packageName"`
}

// TokenResponse carries a registration token: the answer of a registration or a refresh.
type TokenResponse struct {
	Token string `json:"token"`
}

// MessageList is the answer of GET /fakefcm/v1/messages.
type MessageList struct {
	Messages []fakefcm.Record `json:"messages"`
}

// FaultRules is the body of PUT /fakefcm/v1/faults and the answer of GET.
type FaultRules struct {
	Rules []fakefcm.FaultRule `json:"rules"`
}

// ServiceAccount is the service-account JSON fakefcm issues, in the shape of Google's files.
type ServiceAccount struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
}
