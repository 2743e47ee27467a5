package relay

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// Behind an instant router, a cluster of partitioned cores stores what one single relay stores:
// for any sequence of logins, kills, groups, client sends and admin sends, every user's inbox
// holds the same messages under the same seqs and conversations, and every send gets the same
// answer. Only the message IDs differ, by design.
func TestClusterStoresWhatASingleRelayStores(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "grace", "heidi", "administrator"}
	devices := []string{"phone", "tablet"}
	rapid.Check(t, func(rt *rapid.T) {
		single := newWorld(rt, Config{})
		c := newCluster(rt, rapid.IntRange(2, 4).Draw(rt, "partitions"), Config{})
		type pair struct{ single, cluster *phone }
		phones := map[string]pair{}
		for step := range rapid.IntRange(1, 40).Draw(rt, "steps") {
			user := rapid.SampledFrom(users).Draw(rt, "user")
			switch rapid.IntRange(0, 5).Draw(rt, "action") {
			case 0: // a login; platforms differ per device so that the default policy keeps both
				dev := rapid.SampledFrom(devices).Draw(rt, "device")
				name := user + "-" + dev
				phones[name] = pair{single.loginOn(user, name, dev), c.of(user).loginOn(user, name, dev)}
			case 1: // an app killed
				for _, dev := range devices {
					if p, ok := phones[user+"-"+dev]; ok {
						p.single.kill()
						p.cluster.kill()
						delete(phones, user+"-"+dev)
						break
					}
				}
			case 2: // a group put (possibly without the sender of a later message)
				var members []string
				for _, u := range users {
					if rapid.Bool().Draw(rt, "member "+u) {
						members = append(members, u)
					}
				}
				if len(members) == 0 {
					continue
				}
				g := Group{SDKAppID: testApp, ID: rapid.SampledFrom([]string{"g1", "g2"}).Draw(rt, "group"), Members: members}
				_, err := single.core.PutGroup(single.now, g)
				require.NoError(rt, err)
				single.settle()
				c.putGroup(g.ID, g.Members...)
			case 3, 4: // a client send
				var senders []string
				for name := range phones {
					senders = append(senders, name)
				}
				if len(senders) == 0 {
					continue
				}
				slices.Sort(senders)
				p := phones[rapid.SampledFrom(senders).Draw(rt, "sender")]
				f := ClientFrame{Op: OpSend, Text: fmt.Sprint("m", step),
					ClientMsgID: rapid.SampledFrom([]string{"", "", "c1", "c2"}).Draw(rt, "clientMsgId")}
				if rapid.Bool().Draw(rt, "to a group") {
					f.Group = rapid.SampledFrom([]string{"g1", "g2", "g3"}).Draw(rt, "group")
				} else {
					f.To = user
				}
				rs, rc := p.single.w.do(p.single.conn, f), p.cluster.w.do(p.cluster.conn, f)
				require.Equal(rt, rs.Code, rc.Code, "%s: %s / %s", f.Op, rs.Desc, rc.Desc)
				require.Equal(rt, rs.MsgID == "", rc.MsgID == "")
			case 5: // an admin send, from the sender's partition
				req := SendRequest{From: rapid.SampledFrom(append([]string{""}, users...)).Draw(rt, "from"), Text: fmt.Sprint("a", step)}
				if rapid.Bool().Draw(rt, "to a group") {
					req.Group = rapid.SampledFrom([]string{"g1", "g2"}).Draw(rt, "group")
				} else {
					req.To = user
				}
				_, errS := single.core.AdminSend(single.now, testApp, req)
				single.settle()
				from := req.From
				if from == "" {
					from = "administrator"
				}
				w := c.of(from)
				done := len(w.sendsDone)
				_, pending, errC := w.core.AdminSendAsync(w.now, testApp, req)
				w.settle()
				require.Equal(rt, errS == nil, errC == nil, "%v / %v", errS, errC)
				if pending {
					require.Len(rt, w.sendsDone, done+1, "an instant router finishes the send at once")
					require.Equal(rt, OK, w.sendsDone[done].Code)
				}
			}
		}
		for _, u := range users {
			var want []StoredMsg
			if su, ok := single.core.users[UserKey{testApp, u}]; ok {
				want = su.messages()
			}
			require.Equal(rt, inboxLines(want), inboxLines(c.inbox(u)), u)
		}
	})
}
