package relay

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// With three partitions of testApp, alice, bob and erin live in partition 0, carol, dave and
// administrator in 1, grace and heidi in 2 (TestTestUsersPartitions pins it: the cluster tests
// rely on it).
const testPartitions = 3

func TestTestUsersPartitions(t *testing.T) {
	for user, want := range map[string]int{"alice": 0, "bob": 0, "erin": 0, "carol": 1, "dave": 1, "administrator": 1, "grace": 2, "heidi": 2} {
		require.Equal(t, want, PartitionOf(testApp, user, testPartitions), user)
	}
}

func TestPartitionValidateRefusals(t *testing.T) {
	for _, c := range []struct {
		p    Partition
		want string // "" when valid
	}{
		{Partition{}, ""},
		{Partition{Index: 0, Count: 1}, ""},
		{Partition{Index: 2, Count: 3}, ""},
		{Partition{Index: MaxPartitions - 1, Count: MaxPartitions}, ""},
		{Partition{Count: -1}, "partition count -1: must be between 1 and 32768 (0: not a cluster)"},
		{Partition{Count: MaxPartitions + 1}, "partition count 32769: must be between 1 and 32768 (0: not a cluster)"},
		{Partition{Index: 1}, "partition index 1 without a partition count"},
		{Partition{Index: 3, Count: 3}, "partition index 3: must be in [0, 3)"},
		{Partition{Index: -1, Count: 3}, "partition index -1: must be in [0, 3)"},
	} {
		err := c.p.Validate()
		if c.want == "" {
			require.NoError(t, err, "%+v", c.p)
			continue
		}
		require.EqualError(t, err, c.want, "%+v", c.p)
		// The relay's configuration refuses it too.
		require.ErrorContains(t, Config{Partition: c.p}.Validate(), c.want)
	}
}

func TestPartitionHolds(t *testing.T) {
	alice, carol := UserKey{testApp, "alice"}, UserKey{testApp, "carol"}
	require.True(t, Partition{}.Holds(alice), "a single relay holds every user")
	require.True(t, Partition{}.Holds(carol))
	require.True(t, Partition{Index: 0, Count: testPartitions}.Holds(alice))
	require.False(t, Partition{Index: 0, Count: testPartitions}.Holds(carol))
	require.True(t, Partition{Index: 1, Count: testPartitions}.Holds(carol))
	require.True(t, Partition{Index: 0, Count: 1}.Holds(carol), "one partition holds everyone")
}

func TestPushPartitionAndMessageIDs(t *testing.T) {
	p := Partition{Index: 2, Count: testPartitions}
	require.Equal(t, uint64(2)<<48, p.firstPush())
	require.Equal(t, 2, PushPartition(p.firstPush()+1))
	require.Equal(t, 0, PushPartition(17))
	require.Equal(t, MaxPartitions-1, PushPartition(uint64(MaxPartitions-1)<<48+5), "the top partition's IDs stay in range")
	require.Equal(t, "1400000001-p2-9", p.messageID(testApp, 9))
	require.Equal(t, "1400000001-9", Partition{}.messageID(testApp, 9))
	require.Equal(t, "messages.p2", p.counter(counterMessages))
	require.Equal(t, "pushes", Partition{}.counter(counterPushes))
}

// ForPartition keeps what every partition needs (apps, certificates, groups), the user-scoped
// things of the partition's users only, the partition's own counters, and the pending pushes the
// partition's core made for its users.
func TestForPartitionFiltersUserScopedState(t *testing.T) {
	dev := func(user string) DeviceKey { return DeviceKey{testApp, user, user + "-phone"} }
	push := func(part int, n uint64, user string) PushState {
		return PushState{Push: Push{ID: uint64(part)<<48 + n, Device: dev(user)}}
	}
	alice, carol, grace := UserKey{testApp, "alice"}, UserKey{testApp, "carol"}, UserKey{testApp, "grace"}
	st := &State{
		Apps:         []AppConfig{{SDKAppID: testApp}},
		Certificates: []Certificate{{ID: testCert, SDKAppID: testApp}},
		Groups:       []Group{{SDKAppID: testApp, ID: "team", Members: []string{"alice", "carol", "grace"}}},
		Sessions:     []SessionState{{Key: dev("alice")}, {Key: dev("carol")}, {Key: dev("bob")}},
		Bindings:     []Binding{{Key: dev("carol"), Token: "c"}, {Key: dev("alice"), Token: "a"}},
		Messages: map[UserKey][]StoredMsg{
			alice: {{Seq: 1, ID: "1400000001-p0-1"}},
			carol: {{Seq: 1, ID: "1400000001-p0-1"}},
			grace: {{Seq: 1, ID: "1400000001-p2-1"}},
		},
		ReceiveOpts: map[UserKey]map[string]string{alice: {"c2c_carol": ReceiveNotNotify}, carol: {"c2c_alice": ReceiveNotNotify}},
		Pushes: []PushState{
			push(0, 1, "alice"), push(1, 1, "carol"), push(0, 2, "bob"),
			push(1, 2, "alice"), // made by partition 1 for a user it does not hold: no one restores it
		},
		Counters:     map[string]uint64{"messages.p0": 4, "pushes.p0": 2, "messages.p1": 7, "pushes.p1": 1<<48 + 2, "messages": 99},
		PushSettings: map[UserKey]PushSettings{alice: {}, carol: {}},
		Profiles:     []Profile{{SDKAppID: testApp, UserID: "carol", Nickname: "Carol"}, {SDKAppID: testApp, UserID: "alice", Nickname: "Alice"}},
	}
	got := st.ForPartition(Partition{Index: 0, Count: testPartitions})
	want := &State{
		Apps:         st.Apps,
		Certificates: st.Certificates,
		Groups:       st.Groups,
		Sessions:     []SessionState{{Key: dev("alice")}, {Key: dev("bob")}},
		Bindings:     []Binding{{Key: dev("alice"), Token: "a"}},
		Messages:     map[UserKey][]StoredMsg{alice: st.Messages[alice]},
		ReceiveOpts:  map[UserKey]map[string]string{alice: st.ReceiveOpts[alice]},
		Pushes:       []PushState{push(0, 1, "alice"), push(0, 2, "bob")},
		Counters:     map[string]uint64{"messages.p0": 4, "pushes.p0": 2},
		PushSettings: map[UserKey]PushSettings{alice: {}},
		Profiles:     []Profile{{SDKAppID: testApp, UserID: "alice", Nickname: "Alice"}},
	}
	require.Empty(t, cmp.Diff(want, got))

	got = st.ForPartition(Partition{Index: 1, Count: testPartitions})
	require.Equal(t, []SessionState{{Key: dev("carol")}}, got.Sessions)
	require.Equal(t, []PushState{push(1, 1, "carol")}, got.Pushes)
	require.Equal(t, map[string]uint64{"messages.p1": 7, "pushes.p1": 1<<48 + 2}, got.Counters)
	require.Equal(t, map[UserKey]PushSettings{carol: {}}, got.PushSettings)
	require.Equal(t, []Profile{{SDKAppID: testApp, UserID: "carol", Nickname: "Carol"}}, got.Profiles)

	got = st.ForPartition(Partition{Index: 2, Count: testPartitions})
	require.Empty(t, got.Sessions)
	require.Empty(t, got.Pushes)
	require.Empty(t, got.Counters, "partition 2 has counted nothing yet")
	require.Equal(t, map[UserKey][]StoredMsg{grace: st.Messages[grace]}, got.Messages)

	require.Same(t, st, st.ForPartition(Partition{}), "a single relay restores from everything")
}

// The partition of a user must never change: stored data is placed by it. The values were
// computed apart from this code (FNV-1a 64 written out in a few lines of Python).
func TestPartitionOfIsPinned(t *testing.T) {
	for _, c := range []struct {
		app  uint64
		user string
		n    int
		want int
	}{
		{1400000000, "alice", 64, 22},
		{1400000000, "bob", 64, 25},
		{1, "", 64, 18},
		{1<<63 + 5, "用户", 64, 50},
		{1400000000, "alice", 7, 1},
		{1400000000, "alice", 1, 0},
	} {
		require.Equal(t, c.want, PartitionOf(c.app, c.user, c.n), "app %d user %q partitions %d", c.app, c.user, c.n)
	}
}

func TestPartitionOfSpreadsAndSeparatesApps(t *testing.T) {
	const P = 64
	hits := make([]int, P)
	for i := range 64 * 100 {
		p := PartitionOf(1400000000, "user"+string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('0'+i/260)), P)
		require.True(t, p >= 0 && p < P)
		hits[p]++
	}
	for p, n := range hits {
		require.Positive(t, n, "partition %d never hit", p)
	}
	// The app ID takes part: the same user of another app is (almost always) elsewhere.
	moved := 0
	for i := range 100 {
		u := "u" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		if PartitionOf(1, u, P) != PartitionOf(2, u, P) {
			moved++
		}
	}
	require.Greater(t, moved, 80)
}

func TestPartitionOfPanicsWithoutPartitions(t *testing.T) {
	require.Panics(t, func() { PartitionOf(1, "a", 0) })
}
