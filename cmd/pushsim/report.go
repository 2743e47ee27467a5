package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/pushlab/pushlab/reports"
)

// runReport renders report.html and junit.xml again from a saved report.json.
func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pushsim report REPORT.json [--out DIR]")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "folder for report.html and junit.xml (default: the folder of REPORT.json)")
	// Flags may come before or after the file: pushsim report out/report.json --out site.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return &exitError{2, err}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		return &exitError{2, errors.New("name one report.json, such as: pushsim report out/report.json --out out")}
	}
	rep, err := reports.ReadJSON(files[0])
	if err != nil {
		return &exitError{2, err}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(files[0])
	}
	reports.Complete(rep)
	if err := reports.Render(dir, rep); err != nil {
		return fmt.Errorf("write reports: %w", err)
	}
	fmt.Fprintf(stdout, "%s and %s written to %s/ from %s\n", reports.HTMLFile, reports.JUnitFile, dir, files[0])
	return nil
}
