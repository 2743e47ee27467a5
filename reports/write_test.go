package reports

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

func TestReportJSONRoundTrips(t *testing.T) {
	dir := t.TempDir()
	r := SampleReport()
	require.NoError(t, WriteAll(dir, r))
	for _, f := range []string{JSONFile, JUnitFile, HTMLFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.NotZero(t, info.Size(), f)
	}
	back, err := ReadJSON(filepath.Join(dir, JSONFile))
	require.NoError(t, err)
	// Empty lists and maps may come back absent: the JSON leaves them out.
	if d := cmp.Diff(r, back, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("read back (-written +read):\n%s", d)
	}
}

func TestReadJSONSaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	for name, c := range map[string]struct {
		path string
		want []string
	}{
		"missing":        {filepath.Join(dir, "nope.json"), []string{"nope.json", "no such file"}},
		"not JSON":       {write("bad.json", "{oops"), []string{"bad.json", "not JSON"}},
		"not an object":  {write("list.json", "[1, 2]"), []string{"list.json", "not a JSON object", SchemaVersion}},
		"no schema":      {write("other.json", `{"name": "x"}`), []string{"other.json", `no "schema"`, SchemaVersion}},
		"another schema": {write("v2.json", `{"schema": "pushlab.report/v2", "scenarios": {}}`), []string{"v2.json", `"pushlab.report/v2"`, `reads "` + SchemaVersion + `"`}},
		"wrong shape":    {write("shape.json", `{"schema": "`+SchemaVersion+`", "scenarios": {}}`), []string{"shape.json", "not a valid " + SchemaVersion + " report"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadJSON(c.path)
			require.Error(t, err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
