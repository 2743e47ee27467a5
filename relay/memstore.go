package relay

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// MemoryStore is a Store in memory: the store of the virtual mode, where a relay restart rebuilds
// the core from it. It is safe for concurrent use.
type MemoryStore struct {
	mu       sync.Mutex
	apps     map[uint64]AppConfig
	certs    map[int64]Certificate
	sessions map[DeviceKey]SessionState
	bindings map[DeviceKey]Binding
	messages map[UserKey][]StoredMsg
	groups   map[groupKey]Group
	opts     map[UserKey]map[string]string
	pushes   map[uint64]PushState
	counters map[string]uint64
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		apps: map[uint64]AppConfig{}, certs: map[int64]Certificate{}, sessions: map[DeviceKey]SessionState{},
		bindings: map[DeviceKey]Binding{}, messages: map[UserKey][]StoredMsg{}, groups: map[groupKey]Group{},
		opts: map[UserKey]map[string]string{}, pushes: map[uint64]PushState{}, counters: map[string]uint64{},
	}
}

// Apply applies records in order. An unknown record is an error and nothing is applied.
func (s *MemoryStore) Apply(_ context.Context, records []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range records {
		switch r.(type) {
		case PutApp, DeleteApp, PutCertificate, DeleteCertificate, PutSession, DeleteSession,
			PutBinding, DeleteBinding, PutMessage, TrimInbox, PutGroup, PutReceiveOpt, PutPush,
			DeletePush, PutCounter:
		default:
			return fmt.Errorf("apply record %d of %d: unknown record type %T", i+1, len(records), r)
		}
	}
	for _, r := range records {
		switch r := r.(type) {
		case PutApp:
			s.apps[r.App.SDKAppID] = r.App
		case DeleteApp:
			s.deleteApp(r.SDKAppID)
		case PutCertificate:
			s.certs[r.Cert.ID] = r.Cert
		case DeleteCertificate:
			delete(s.certs, r.ID)
		case PutSession:
			r.Session.Held = slices.Clone(r.Session.Held)
			s.sessions[r.Session.Key] = r.Session
		case DeleteSession:
			delete(s.sessions, r.Key)
		case PutBinding:
			s.bindings[r.Binding.Key] = r.Binding
		case DeleteBinding:
			delete(s.bindings, r.Key)
		case PutMessage:
			s.messages[r.User] = append(s.messages[r.User], r.Msg)
		case TrimInbox:
			msgs := s.messages[r.User]
			i := sort.Search(len(msgs), func(i int) bool { return msgs[i].Seq > r.Through })
			s.messages[r.User] = slices.Clone(msgs[i:])
		case PutGroup:
			g := r.Group
			g.Members = slices.Clone(g.Members)
			s.groups[groupKey{g.SDKAppID, g.ID}] = g
		case PutReceiveOpt:
			if s.opts[r.User] == nil {
				s.opts[r.User] = map[string]string{}
			}
			if r.Opt == ReceiveAll {
				delete(s.opts[r.User], r.Conv)
			} else {
				s.opts[r.User][r.Conv] = r.Opt
			}
		case PutPush:
			p := r.Push
			p.Push.Data = maps.Clone(p.Push.Data)
			p.Push.Seqs = slices.Clone(p.Push.Seqs)
			s.pushes[p.Push.ID] = p
		case DeletePush:
			delete(s.pushes, r.ID)
		case PutCounter:
			s.counters[r.Name] = r.Value
		}
	}
	return nil
}

func (s *MemoryStore) deleteApp(id uint64) {
	delete(s.apps, id)
	for k, c := range s.certs {
		if c.SDKAppID == id {
			delete(s.certs, k)
		}
	}
	for k := range s.sessions {
		if k.SDKAppID == id {
			delete(s.sessions, k)
		}
	}
	for k := range s.bindings {
		if k.SDKAppID == id {
			delete(s.bindings, k)
		}
	}
	for k := range s.messages {
		if k.SDKAppID == id {
			delete(s.messages, k)
		}
	}
	for k := range s.groups {
		if k.app == id {
			delete(s.groups, k)
		}
	}
	for k := range s.opts {
		if k.SDKAppID == id {
			delete(s.opts, k)
		}
	}
	for k, p := range s.pushes {
		if p.Push.Device.SDKAppID == id {
			delete(s.pushes, k)
		}
	}
}

// Load returns a copy of the stored state, in a deterministic order.
func (s *MemoryStore) Load(context.Context) (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &State{Messages: map[UserKey][]StoredMsg{}, ReceiveOpts: map[UserKey]map[string]string{}, Counters: map[string]uint64{}}
	for _, a := range s.apps {
		st.Apps = append(st.Apps, a)
	}
	slices.SortFunc(st.Apps, func(a, b AppConfig) int { return cmp.Compare(a.SDKAppID, b.SDKAppID) })
	for _, c := range s.certs {
		st.Certificates = append(st.Certificates, c)
	}
	slices.SortFunc(st.Certificates, func(a, b Certificate) int { return cmp.Compare(a.ID, b.ID) })
	for _, ss := range s.sessions {
		ss.Held = slices.Clone(ss.Held)
		st.Sessions = append(st.Sessions, ss)
	}
	slices.SortFunc(st.Sessions, func(a, b SessionState) int { return compareDeviceKeys(a.Key, b.Key) })
	for _, b := range s.bindings {
		st.Bindings = append(st.Bindings, b)
	}
	slices.SortFunc(st.Bindings, func(a, b Binding) int { return compareDeviceKeys(a.Key, b.Key) })
	for k, msgs := range s.messages {
		st.Messages[k] = slices.Clone(msgs)
	}
	for _, g := range s.groups {
		g.Members = slices.Clone(g.Members)
		st.Groups = append(st.Groups, g)
	}
	slices.SortFunc(st.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.ID, b.ID))
	})
	for k, o := range s.opts {
		m := make(map[string]string, len(o))
		for conv, opt := range o {
			m[conv] = opt
		}
		st.ReceiveOpts[k] = m
	}
	for _, p := range s.pushes {
		p.Push.Data = maps.Clone(p.Push.Data)
		p.Push.Seqs = slices.Clone(p.Push.Seqs)
		st.Pushes = append(st.Pushes, p)
	}
	slices.SortFunc(st.Pushes, func(a, b PushState) int { return cmp.Compare(a.Push.ID, b.Push.ID) })
	for k, v := range s.counters {
		st.Counters[k] = v
	}
	return st, nil
}

// Close does nothing.
func (s *MemoryStore) Close() error { return nil }

func compareDeviceKeys(a, b DeviceKey) int {
	return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.DeviceID, b.DeviceID))
}
