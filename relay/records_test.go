package relay_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

func TestStateSort(t *testing.T) {
	dev := func(app uint64, user, device string) relay.DeviceKey {
		return relay.DeviceKey{SDKAppID: app, UserID: user, DeviceID: device}
	}
	// The devices in the order Sort keeps: by app, then user, then device.
	devs := []relay.DeviceKey{dev(1, "b", "z"), dev(2, "a", "a"), dev(2, "a", "b"), dev(2, "b", "a")}
	u := relay.UserKey{SDKAppID: 1, UserID: "u"}
	want := relay.State{
		Apps:         []relay.AppConfig{{SDKAppID: 1}, {SDKAppID: 2}, {SDKAppID: 3}},
		Certificates: []relay.Certificate{{ID: 4}, {ID: 5}, {ID: 6}},
		Sessions:     []relay.SessionState{{Key: devs[0]}, {Key: devs[1]}, {Key: devs[2]}, {Key: devs[3]}},
		Bindings:     []relay.Binding{{Key: devs[0]}, {Key: devs[1]}, {Key: devs[2]}, {Key: devs[3]}},
		Messages:     map[relay.UserKey][]relay.StoredMsg{u: {{Seq: 1}, {Seq: 2}, {Seq: 3}}},
		Groups:       []relay.Group{{SDKAppID: 1, ID: "z"}, {SDKAppID: 2, ID: "a"}, {SDKAppID: 2, ID: "b"}},
		Pushes:       []relay.PushState{{Push: relay.Push{ID: 7}}, {Push: relay.Push{ID: 8}}, {Push: relay.Push{ID: 9}}},
	}
	got := relay.State{
		Apps:         []relay.AppConfig{{SDKAppID: 3}, {SDKAppID: 1}, {SDKAppID: 2}},
		Certificates: []relay.Certificate{{ID: 6}, {ID: 4}, {ID: 5}},
		Sessions:     []relay.SessionState{{Key: devs[3]}, {Key: devs[1]}, {Key: devs[0]}, {Key: devs[2]}},
		Bindings:     []relay.Binding{{Key: devs[2]}, {Key: devs[3]}, {Key: devs[0]}, {Key: devs[1]}},
		Messages:     map[relay.UserKey][]relay.StoredMsg{u: {{Seq: 3}, {Seq: 1}, {Seq: 2}}},
		Groups:       []relay.Group{{SDKAppID: 2, ID: "b"}, {SDKAppID: 1, ID: "z"}, {SDKAppID: 2, ID: "a"}},
		Pushes:       []relay.PushState{{Push: relay.Push{ID: 9}}, {Push: relay.Push{ID: 7}}, {Push: relay.Push{ID: 8}}},
	}
	got.Sort()
	require.Empty(t, cmp.Diff(want, got))
}

// TestEveryRecordIsDescribed: a store's errors name every kind of record and its key, never just
// its Go type. The kinds are read from the package's source (the types with an isRecord method),
// so that a new kind without a case here, or in DescribeRecord, fails.
func TestEveryRecordIsDescribed(t *testing.T) {
	user := relay.UserKey{SDKAppID: 7, UserID: "alice"}
	dev := relay.DeviceKey{SDKAppID: 7, UserID: "alice", DeviceID: "phone"}
	records := []relay.Record{
		relay.PutApp{App: relay.AppConfig{SDKAppID: 7}}, relay.DeleteApp{SDKAppID: 7},
		relay.PutCertificate{Cert: relay.Certificate{ID: 9}}, relay.DeleteCertificate{ID: 9},
		relay.PutSession{Session: relay.SessionState{Key: dev}}, relay.DeleteSession{Key: dev},
		relay.PutBinding{Binding: relay.Binding{Key: dev}}, relay.DeleteBinding{Key: dev},
		relay.PutMessage{User: user, Msg: relay.StoredMsg{Seq: 3}}, relay.TrimInbox{User: user, Through: 3},
		relay.PutGroup{Group: relay.Group{SDKAppID: 7, ID: "team"}}, relay.PutReceiveOpt{User: user, Conv: "c2c_bob", Opt: relay.ReceiveNotNotify},
		relay.PutPush{Push: relay.PushState{Push: relay.Push{ID: 5}}}, relay.DeletePush{ID: 5},
		relay.PutCounter{Name: "messages", Value: 1}, relay.PutPushSettings{User: user},
		relay.PutProfile{Profile: relay.Profile{SDKAppID: 7, UserID: "alice"}}, relay.AppendTrace{Entries: make([]relay.TraceEntry, 2)},
	}
	var listed []string
	for _, r := range records {
		typ := strings.TrimPrefix(fmt.Sprintf("%T", r), "relay.")
		listed = append(listed, typ)
		d := relay.DescribeRecord(r)
		require.True(t, strings.HasPrefix(d, typ+" ") && len(d) > len(typ)+1, "%s is described as %q: name it and its key", typ, d)
	}
	slices.Sort(listed)
	require.Equal(t, recordKinds(t), listed, "every kind of record is listed here")
}

// recordKinds are the names of the types of package relay that have an isRecord method.
func recordKinds(t *testing.T) []string {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var kinds []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "isRecord" && fn.Recv != nil {
				if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok {
					kinds = append(kinds, id.Name)
				}
			}
		}
	}
	slices.Sort(kinds)
	return kinds
}
