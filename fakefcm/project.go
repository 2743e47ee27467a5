package fakefcm

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/pushlab/pushlab/internal/ratelimit"
)

// Errors of the control operations, for errors.Is.
var (
	ErrExists           = errors.New("fakefcm: already exists")
	ErrUnknownProject   = errors.New("fakefcm: unknown project")
	ErrUnknownSender    = errors.New("fakefcm: unknown sender ID")
	ErrUnknownToken     = errors.New("fakefcm: unknown token")
	ErrPackageNotListed = errors.New("fakefcm: package name not registered in the project")
	ErrInvalid          = errors.New("fakefcm: invalid request")
)

// ProjectSpec is what creating a project takes.
type ProjectSpec struct {
	// ID is the Firebase project ID: lowercase letters, digits and hyphens.
	ID string
	// SenderID is the project number apps register with; empty draws one.
	SenderID string
	// PackageNames are the Android apps that may register for tokens; empty allows any.
	PackageNames []string
}

// Project is a project as the control API reports it, with its legacy server key. The service
// account belongs to the HTTP shell, which owns OAuth.
type Project struct {
	ID           string   `json:"projectId"`
	SenderID     string   `json:"senderId"`
	PackageNames []string `json:"packageNames"`
	ServerKey    string   `json:"serverKey"`
}

type project struct {
	Project
	quota *ratelimit.Window // project-wide sends per minute; built on first use
}

var (
	projectIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	senderIDPattern  = regexp.MustCompile(`^[0-9]{1,20}$`)
	packagePattern   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)
)

// CreateProject creates a project and draws its legacy server key (and its sender ID when the
// spec has none).
func (c *Core) CreateProject(spec ProjectSpec) (Project, error) {
	if !projectIDPattern.MatchString(spec.ID) {
		return Project{}, fmt.Errorf("%w: projectId %q: use lowercase letters, digits and hyphens, starting with a letter or digit", ErrInvalid, spec.ID)
	}
	if _, ok := c.projects[spec.ID]; ok {
		return Project{}, fmt.Errorf("%w: project %q", ErrExists, spec.ID)
	}
	if spec.SenderID == "" {
		for spec.SenderID == "" || c.bySender[spec.SenderID] != nil {
			spec.SenderID = fmt.Sprintf("%d", 100000000000+c.rng.Int64N(900000000000))
		}
	}
	if !senderIDPattern.MatchString(spec.SenderID) {
		return Project{}, fmt.Errorf("%w: senderId %q: use the project number, digits only", ErrInvalid, spec.SenderID)
	}
	if _, ok := c.bySender[spec.SenderID]; ok {
		return Project{}, fmt.Errorf("%w: sender ID %q belongs to another project", ErrExists, spec.SenderID)
	}
	for _, pkg := range spec.PackageNames {
		if !packagePattern.MatchString(pkg) {
			return Project{}, fmt.Errorf("%w: package name %q: expected a Java package name such as com.example.im", ErrInvalid, pkg)
		}
	}
	p := &project{Project: Project{
		ID:           spec.ID,
		SenderID:     spec.SenderID,
		PackageNames: slices.Clone(spec.PackageNames),
		ServerKey:    "AAAA" + c.randomString(7) + ":APA91b" + c.randomString(134),
	}}
	c.projects[p.ID] = p
	c.bySender[p.SenderID] = p
	c.byServerKey[p.ServerKey] = p
	return p.Project, nil
}

// Project returns the project with the given ID.
func (c *Core) Project(id string) (Project, bool) {
	p, ok := c.projects[id]
	if !ok {
		return Project{}, false
	}
	return p.Project, true
}

// ProjectByServerKey returns the project a legacy server key belongs to.
func (c *Core) ProjectByServerKey(key string) (Project, bool) {
	p, ok := c.byServerKey[key]
	if !ok {
		return Project{}, false
	}
	return p.Project, true
}

// Projects lists the projects in ID order.
func (c *Core) Projects() []Project {
	out := make([]Project, 0, len(c.projects))
	for _, id := range sortedKeys(c.projects) {
		out = append(out, c.projects[id].Project)
	}
	return out
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// randomString draws n characters of the base64url alphabet.
func (c *Core) randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = tokenAlphabet[c.rng.IntN(len(tokenAlphabet))]
	}
	return string(b)
}
