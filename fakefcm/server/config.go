package server

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/yamlfile"
)

// FileConfig is the YAML file `fakefcm --config` reads: behaviour, and projects to create at start
// whose credentials are written to files, so that a relay in another process can use them.
type FileConfig struct {
	// Seed feeds fakefcm's randomness; zero lets the command line or a random seed decide.
	Seed uint64 `yaml:"seed"`
	// Behaviour is the delivery behaviour: latency, jitter, loss, throttles.
	Behaviour fakefcm.Behaviour `yaml:"behaviour"`
	// Projects are created at start.
	Projects []ProjectFile `yaml:"projects"`
}

// ProjectFile is a project to create at start and where to write its credentials.
type ProjectFile struct {
	ProjectID    string   `yaml:"projectId"`
	SenderID     string   `yaml:"senderId"`
	PackageNames []string `yaml:"packageNames"`
	// ServiceAccountFile receives the service-account JSON (mode 0600); empty writes none.
	ServiceAccountFile string `yaml:"serviceAccountFile"`
	// ServerKeyFile receives the legacy server key (mode 0600); empty writes none.
	ServerKeyFile string `yaml:"serverKeyFile"`
}

// ParseFileConfig reads a fakefcm config file. Errors name the file, line and column.
func ParseFileConfig(name string, data []byte) (*FileConfig, error) {
	var fc FileConfig
	if err := yamlfile.Decode(name, data, &fc); err != nil {
		return nil, err
	}
	if err := fc.Behaviour.Validate(); err != nil {
		return nil, fmt.Errorf("%s: behaviour: %w", name, err)
	}
	for i, p := range fc.Projects {
		if p.ProjectID == "" {
			return nil, fmt.Errorf("%s: projects[%d]: projectId is required", name, i)
		}
	}
	return &fc, nil
}

// Provision creates the file's projects and writes their credentials where it says.
func (s *Server) Provision(fc *FileConfig) error {
	for _, p := range fc.Projects {
		creds, err := s.CreateProject(control.CreateProjectRequest{ProjectID: p.ProjectID, SenderID: p.SenderID, PackageNames: p.PackageNames})
		if err != nil {
			return fmt.Errorf("create project %s: %w", p.ProjectID, err)
		}
		if err := writeSecret(p.ServiceAccountFile, creds.ServiceAccount); err != nil {
			return fmt.Errorf("project %s: %w", p.ProjectID, err)
		}
		if err := writeSecret(p.ServerKeyFile, []byte(creds.ServerKey+"\n")); err != nil {
			return fmt.Errorf("project %s: %w", p.ProjectID, err)
		}
	}
	return nil
}

// writeSecret writes a credentials file readable by its owner only; an empty path writes nothing.
func writeSecret(path string, data []byte) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	// Write a fresh owner-only file and rename it into place: an existing file's mode (0644,
	// say) must not carry over to the secret.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	return nil
}
