package relay

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pushlab/pushlab/internal/chunked"
)

// MemoryStore is a Store in memory: the store of the virtual mode, where a relay restart rebuilds
// the core from it. It is safe for concurrent use.
type MemoryStore struct {
	mu       sync.Mutex
	apps     map[uint64]AppConfig
	certs    map[int64]Certificate
	sessions map[DeviceKey]SessionState
	bindings map[DeviceKey]Binding
	byToken  map[tokenKey]DeviceKey // the device each (app, token) is bound to
	messages map[UserKey][]StoredMsg
	groups   map[groupKey]Group
	opts     map[UserKey]map[string]string
	pushes   map[uint64]PushState
	counters map[string]uint64
	// pushSettings are the users' settings that are not the default.
	pushSettings map[UserKey]PushSettings
	profiles     map[UserKey]Profile
	// trace is the push trace in the order it was stored (by seq); traceSeq numbers the entries.
	trace    chunked.Deque[storedTrace]
	traceSeq uint64
}

// storedTrace is a push-trace entry and the number the store gave it.
type storedTrace struct {
	seq uint64
	e   TraceEntry
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{}
	s.empty()
	return s
}

// empty makes the store hold nothing.
func (s *MemoryStore) empty() {
	s.apps, s.certs, s.sessions, s.bindings = map[uint64]AppConfig{}, map[int64]Certificate{}, map[DeviceKey]SessionState{}, map[DeviceKey]Binding{}
	s.byToken, s.messages, s.groups = map[tokenKey]DeviceKey{}, map[UserKey][]StoredMsg{}, map[groupKey]Group{}
	s.opts, s.pushes, s.counters = map[UserKey]map[string]string{}, map[uint64]PushState{}, map[string]uint64{}
	s.pushSettings, s.profiles = map[UserKey]PushSettings{}, map[UserKey]Profile{}
	s.trace, s.traceSeq = chunked.Deque[storedTrace]{}, 0
}

// Apply applies records in order. An unknown record is an error and nothing is applied.
func (s *MemoryStore) Apply(_ context.Context, records []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range records {
		switch r := r.(type) {
		case PutApp, DeleteApp, PutCertificate, DeleteCertificate, PutSession, DeleteSession,
			PutBinding, DeleteBinding, PutMessage, TrimInbox, PutGroup, PutReceiveOpt, PutPush,
			DeletePush, PutCounter, PutPushSettings, PutProfile:
		case AppendTrace:
			if err := checkTrace(r.Entries); err != nil {
				return fmt.Errorf("apply record %d of %d: %w", i+1, len(records), err)
			}
		default:
			return fmt.Errorf("apply record %d of %d: unknown record type %T", i+1, len(records), r)
		}
	}
	for _, r := range records {
		switch r := r.(type) {
		case PutApp:
			if len(r.App.PushTemplates) == 0 {
				r.App.PushTemplates = nil // as the SQL stores give it back
			}
			r.App.PushTemplates = maps.Clone(r.App.PushTemplates)
			s.apps[r.App.SDKAppID] = r.App
		case DeleteApp:
			s.deleteApp(r.SDKAppID)
		case PutCertificate:
			s.certs[r.Cert.ID] = r.Cert
		case DeleteCertificate:
			delete(s.certs, r.ID)
		case PutSession:
			r.Session.Held = slices.Clone(r.Session.Held)
			r.Session.Caps = r.Session.Caps.clone()
			s.sessions[r.Session.Key] = r.Session
		case DeleteSession:
			delete(s.sessions, r.Key)
		case PutBinding:
			s.putBinding(r.Binding)
		case DeleteBinding:
			s.deleteBinding(r.Key)
		case PutMessage:
			if r.Msg.Push != nil {
				p := *r.Msg.Push
				r.Msg.Push = &p
			}
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
		case PutPushSettings:
			if r.Settings.IsDefault() {
				delete(s.pushSettings, r.User)
			} else {
				s.pushSettings[r.User] = r.Settings
			}
		case PutProfile:
			k := UserKey{r.Profile.SDKAppID, r.Profile.UserID}
			if r.Profile.Nickname == "" {
				delete(s.profiles, k)
			} else {
				s.profiles[k] = r.Profile
			}
		case AppendTrace:
			for _, e := range r.Entries {
				s.traceSeq++
				e.Time = time.Unix(0, e.Time.UnixNano()).UTC() // as a store gives it back
				if len(e.Seqs) == 0 {
					e.Seqs = nil
				} else {
					e.Seqs = slices.Clone(e.Seqs)
				}
				s.trace.PushBack(storedTrace{seq: s.traceSeq, e: e})
			}
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
	maps.DeleteFunc(s.sessions, func(k DeviceKey, _ SessionState) bool { return k.SDKAppID == id })
	for k := range s.bindings {
		if k.SDKAppID == id {
			s.deleteBinding(k)
		}
	}
	maps.DeleteFunc(s.messages, func(k UserKey, _ []StoredMsg) bool { return k.SDKAppID == id })
	for k := range s.groups {
		if k.app == id {
			delete(s.groups, k)
		}
	}
	maps.DeleteFunc(s.opts, func(k UserKey, _ map[string]string) bool { return k.SDKAppID == id })
	for k, p := range s.pushes {
		if p.Push.Device.SDKAppID == id {
			delete(s.pushes, k)
		}
	}
	maps.DeleteFunc(s.pushSettings, func(k UserKey, _ PushSettings) bool { return k.SDKAppID == id })
	maps.DeleteFunc(s.profiles, func(k UserKey, _ Profile) bool { return k.SDKAppID == id })
}

// putBinding stores a binding. A token belongs to one device of an app: the binding takes it from
// any other device still holding it (in a cluster, a device of another partition whose core has
// not heard of the move yet), as every store does.
func (s *MemoryStore) putBinding(b Binding) {
	s.deleteBinding(b.Key)
	tk := tokenKey{b.Key.SDKAppID, b.Token}
	if other, ok := s.byToken[tk]; ok {
		delete(s.bindings, other)
	}
	s.bindings[b.Key] = b
	s.byToken[tk] = b.Key
}

// deleteBinding removes a device's binding.
func (s *MemoryStore) deleteBinding(k DeviceKey) {
	if b, ok := s.bindings[k]; ok {
		delete(s.bindings, k)
		if tk := (tokenKey{k.SDKAppID, b.Token}); s.byToken[tk] == k {
			delete(s.byToken, tk)
		}
	}
}

// Load returns a copy of the stored state, in State.Sort's order, that shares nothing with it.
func (s *MemoryStore) Load(context.Context) (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state(true)
	st.Sort()
	return st, nil
}

// Drain hands the stored state and trace over, unsorted, without a deep copy (the maps of
// inboxes, receive options, counters and push settings are the store's own; the other records
// and the trace entries are copied into slices, sharing what they point to), and leaves the
// store empty, numbering its trace afresh: for a store built only to be written out (a journal's compaction replays the
// journal into one of its own), where Load's deep copy would double what it holds.
func (s *MemoryStore) Drain() (*State, []TraceEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state(false)
	trace := make([]TraceEntry, 0, s.trace.Len())
	for e := range s.trace.All() {
		trace = append(trace, e.e)
	}
	s.empty()
	return st, trace
}

// state is the stored state as a State, each value copied deep enough to share nothing with the
// store if deep, else sharing the store's maps and slices.
func (s *MemoryStore) state(deep bool) *State {
	st := &State{Messages: s.messages, ReceiveOpts: s.opts, Counters: s.counters, PushSettings: s.pushSettings}
	if deep {
		st.Messages, st.ReceiveOpts, st.Counters = map[UserKey][]StoredMsg{}, map[UserKey]map[string]string{}, map[string]uint64{}
		st.PushSettings = maps.Clone(s.pushSettings)
		maps.Copy(st.Counters, s.counters)
	}
	for _, a := range s.apps {
		if deep {
			a.PushTemplates = maps.Clone(a.PushTemplates)
		}
		st.Apps = append(st.Apps, a)
	}
	for _, p := range s.profiles {
		st.Profiles = append(st.Profiles, p)
	}
	for _, c := range s.certs {
		st.Certificates = append(st.Certificates, c)
	}
	for _, ss := range s.sessions {
		if deep {
			ss.Held = slices.Clone(ss.Held)
			ss.Caps = ss.Caps.clone()
		}
		st.Sessions = append(st.Sessions, ss)
	}
	for _, b := range s.bindings {
		st.Bindings = append(st.Bindings, b)
	}
	for _, g := range s.groups {
		if deep {
			g.Members = slices.Clone(g.Members)
		}
		st.Groups = append(st.Groups, g)
	}
	for _, p := range s.pushes {
		if deep {
			p.Push.Data = maps.Clone(p.Push.Data)
			p.Push.Seqs = slices.Clone(p.Push.Seqs)
		}
		st.Pushes = append(st.Pushes, p)
	}
	if !deep {
		return st
	}
	for k, msgs := range s.messages {
		msgs = slices.Clone(msgs)
		for i := range msgs {
			if p := msgs[i].Push; p != nil {
				c := *p
				msgs[i].Push = &c
			}
		}
		st.Messages[k] = msgs
	}
	for k, o := range s.opts {
		m := make(map[string]string, len(o))
		maps.Copy(m, o)
		st.ReceiveOpts[k] = m
	}
	return st
}

// QueryTrace (TraceStore) answers from the trace in memory.
func (s *MemoryStore) QueryTrace(_ context.Context, q TraceQuery) (TracePage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []storedTrace
	for st := range s.trace.All() {
		if traceMatches(&q, &st.e) && q.Before.precedes(st.e.Time, st.seq) {
			hits = append(hits, *st)
		}
	}
	// Times may go back across restarts (a wall clock set back): the order is by time first.
	slices.SortStableFunc(hits, func(a, b storedTrace) int {
		return cmp.Or(a.e.Time.Compare(b.e.Time), cmp.Compare(a.seq, b.seq))
	})
	var page TracePage
	if q.Limit > 0 && len(hits) > q.Limit {
		hits = hits[len(hits)-q.Limit:]
		page.Next = TraceCursor{Time: hits[0].e.Time, Seq: hits[0].seq}
	}
	for _, st := range hits {
		e := st.e
		e.Seqs = slices.Clone(e.Seqs)
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

// TraceEntries returns a copy of the trace in the order the store took its entries in: what a
// store that keeps a MemoryStore writes out to rebuild one with the same trace.
func (s *MemoryStore) TraceEntries() []TraceEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TraceEntry, 0, s.trace.Len())
	for st := range s.trace.All() {
		e := st.e
		e.Seqs = slices.Clone(e.Seqs)
		out = append(out, e)
	}
	return out
}

// PruneTrace (TraceStore) deletes what the bound no longer keeps, at most p.Batch entries.
func (s *MemoryStore) PruneTrace(_ context.Context, p TracePrune) (int, error) {
	if p.Batch <= 0 {
		return 0, fmt.Errorf("prune trace: batch %d: must be positive", p.Batch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if p.Keep > 0 && s.trace.Len() > p.Keep {
		n = min(s.trace.Len()-p.Keep, p.Batch)
		s.trace.DropFront(n)
	}
	// Entries are stored in time order but for a clock set back across a restart: the due ones
	// at the front are dropped from it one by one (each drop frees a chunk once it is empty, and
	// moves nothing), the rest are looked for behind them.
	for !p.Before.IsZero() && n < p.Batch && s.trace.Len() > 0 && s.trace.At(0).e.Time.Before(p.Before) {
		s.trace.DropFront(1)
		n++
	}
	if !p.Before.IsZero() && n < p.Batch {
		s.trace.DeleteFunc(func(st *storedTrace) bool {
			if n < p.Batch && st.e.Time.Before(p.Before) {
				n++
				return true
			}
			return false
		})
	}
	return n, nil
}

// checkTrace refuses entries a store cannot keep: without a time, or outside what UnixNano holds.
func checkTrace(entries []TraceEntry) error {
	for i, e := range entries {
		if e.Time.IsZero() || e.Time.Before(minTraceTime) || e.Time.After(maxTraceTime) {
			return fmt.Errorf("trace entry %d of %d: time %v: outside %v to %v", i+1, len(entries), e.Time, minTraceTime.UTC(), maxTraceTime.UTC())
		}
	}
	return nil
}

// The times a push-trace entry may carry: what a UnixNano integer holds.
var (
	minTraceTime = time.Unix(0, math.MinInt64)
	maxTraceTime = time.Unix(0, math.MaxInt64)
)

// Close does nothing.
func (s *MemoryStore) Close() error { return nil }

func compareDeviceKeys(a, b DeviceKey) int {
	return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.DeviceID, b.DeviceID))
}
