package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Files the run writes into its output folder.
const (
	JSONFile  = "report.json"
	JUnitFile = "junit.xml"
	HTMLFile  = "report.html"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return writeFile(path, append(b, '\n'))
}

// ReadJSON reads a report written by WriteJSON. It names the file and what is wrong when the
// file is missing, is not JSON, or holds another schema than SchemaVersion.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	// The schema first: a report of another version may not decode as this one.
	var head any
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s: not JSON, so not a pushsim report: %w", path, err)
	}
	obj, ok := head.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object, so not a pushsim report (schema %q expected)", path, SchemaVersion)
	}
	schema, ok := obj["schema"].(string)
	switch {
	case !ok:
		return nil, fmt.Errorf("%s: no \"schema\" string: not a pushsim report (schema %q expected)", path, SchemaVersion)
	case schema != SchemaVersion:
		return nil, fmt.Errorf("%s: report schema %q; this pushsim reads %q", path, schema, SchemaVersion)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a valid %s report: %w", path, SchemaVersion, err)
	}
	return &r, nil
}

// WriteAll writes report.json, junit.xml and report.html into dir.
func WriteAll(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report folder: %w", err)
	}
	if err := WriteJSON(filepath.Join(dir, JSONFile), r); err != nil {
		return err
	}
	return Render(dir, r)
}

// Render writes junit.xml and report.html from a report.
func Render(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report folder: %w", err)
	}
	j, err := JUnit(r)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, JUnitFile), j); err != nil {
		return err
	}
	h, err := HTML(r)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, HTMLFile), h)
}

// writeFile writes through a temporary file and a rename, so a reader never sees half a report.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
