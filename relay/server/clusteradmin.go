package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/relay/cluster"
)

// adminScope says which core an admin route needs, so that a cluster node serves it itself or
// forwards it to the node that owns the partition it needs.
type adminScope uint8

const (
	scopeLocal       adminScope = iota // any node answers (settings, the cluster's state, the push trace in the shared store)
	scopeCatalogRead                   // any core: this node's, or the catalog owner's when it serves none
	scopeCatalog                       // a catalog change: the owner of cluster.CatalogPartition
	scopeUser                          // the owner of the {user}'s partition
	scopeSender                        // an admin send: the owner of the sender's partition
)

// adminSubject is the subject partition p's owner takes forwarded admin calls on.
func adminSubject(clusterName string, p int) string {
	return "pushlab." + clusterName + ".admin." + strconv.Itoa(p)
}

// forwardedKey marks, in a request's context, an admin call another node forwarded: its admin key
// was checked there, and it is served here whoever owns what it needs.
type forwardedKey struct{}

func forwarded(r *http.Request) bool { return r.Context().Value(forwardedKey{}) != nil }

// forwardedRequest is an admin call forwarded over the bus to a partition's owner.
type forwardedRequest struct {
	Method      string `json:"method"`
	URI         string `json:"uri"`
	ContentType string `json:"contentType,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// forwardedAnswer is the owner's answer to a forwarded call.
type forwardedAnswer struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType,omitempty"`
	RetryAfter  string `json:"retryAfter,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// routed serves an admin call here when this node holds what it needs (or the call was forwarded
// to it), and forwards it to the owner of the partition it needs otherwise. A single relay serves
// everything itself.
func (s *Server) routed(scope adminScope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cl == nil || forwarded(r) || scope == scopeLocal {
			next.ServeHTTP(w, r)
			return
		}
		p := cluster.CatalogPartition
		switch scope {
		case scopeCatalogRead:
			if len(s.cl.view.Load().Owned) > 0 {
				next.ServeHTTP(w, r)
				return
			}
		case scopeUser, scopeSender:
			app, err := strconv.ParseUint(r.PathValue("app"), 10, 64)
			if err != nil {
				next.ServeHTTP(w, r) // the handler says what is wrong
				return
			}
			user := r.PathValue("user")
			if scope == scopeSender {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					next.ServeHTTP(w, r.WithContext(r.Context())) // the handler reads the error again
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				var req struct {
					From string `json:"from"`
				}
				_ = json.Unmarshal(body, &req) // a bad body is the handler's to refuse
				user = req.From
				if user == "" {
					user = "administrator"
				}
			}
			p = cluster.PartitionOf(app, user, s.cl.cfg.Partitions)
		}
		if s.cl.serves(p) {
			next.ServeHTTP(w, r)
			return
		}
		s.forward(w, r, p)
	})
}

// forwardWait bounds a forwarded call: the longest an admin call may wait on its node (a test
// push for FCM's answer, a certificate for its check), and a little more.
func (s *Server) forwardWait() time.Duration {
	return max(s.cfg.TestPushWait, s.cfg.CheckWait) + 5*time.Second
}

// forward sends an admin call to partition p's owner over the bus and answers what it answered:
// 503 with code 5002 when the partition has no owner right now.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, p int) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	data, err := json.Marshal(forwardedRequest{Method: r.Method, URI: r.URL.RequestURI(), ContentType: r.Header.Get("Content-Type"), Body: body})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode the forwarded call: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.forwardWait())
	defer cancel()
	b, err := s.cl.cfg.Bus.Request(ctx, adminSubject(s.cl.cfg.Name, p), data)
	if err != nil {
		switch {
		case r.Context().Err() != nil:
			writeCoreError(w, r.Context().Err())
		case errors.Is(err, cluster.ErrUnavailable):
			writeUnavailable(w, fmt.Sprintf("partition %d has no owner right now (it is moving to another node)", p))
		default:
			writeUnavailable(w, fmt.Sprintf("partition %d's owner did not answer: %v", p, err))
		}
		return
	}
	var a forwardedAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("partition %d's owner answered something else than an admin answer: %v", p, err))
		return
	}
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// onForwarded serves an admin call another node forwarded to this node as partition p's owner,
// with this node's own admin handler, in-process, and answers it. A node that no longer serves p
// leaves it to the one that does (the first answer counts).
func (s *Server) onForwarded(p int, m cluster.Msg) {
	if m.Reply == nil || !s.cl.serves(p) {
		return
	}
	var fr forwardedRequest
	if err := json.Unmarshal(m.Data, &fr); err != nil {
		s.log.Warn("forwarded admin call not understood", "partition", p, "err", err)
		return
	}
	s.cl.bg.Add(1)
	go func() {
		defer s.cl.bg.Done()
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), forwardedKey{}, p), s.forwardWait())
		defer cancel()
		a := forwardedAnswer{Status: http.StatusInternalServerError}
		req, err := http.NewRequestWithContext(ctx, fr.Method, "http://relay.in-process"+fr.URI, bytes.NewReader(fr.Body))
		if err == nil {
			if fr.ContentType != "" {
				req.Header.Set("Content-Type", fr.ContentType)
			}
			var resp *http.Response
			if resp, err = (httpserver.InProcess{Handler: s.handler}).RoundTrip(req); err == nil {
				a.Status, a.ContentType, a.RetryAfter = resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After")
				a.Body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}
		if err != nil {
			a.Body = []byte(fmt.Sprintf(`{"error":{"code":500,"message":%q}}`, "forwarded admin call failed: "+err.Error()))
		}
		data, err := json.Marshal(a)
		if err == nil {
			err = m.Reply(data)
		}
		if err != nil {
			s.log.Warn("forwarded admin call not answered", "partition", p, "err", err)
		}
	}()
}

// clusterInfo serves GET /admin/v1/cluster: this node's ID, the partitions it serves with their
// epochs, the live nodes, and the lease table's live leases.
func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request) {
	if s.cl == nil {
		writeError(w, http.StatusNotFound, "this relay runs alone, not as a cluster node (relay --cluster)")
		return
	}
	v := *s.cl.view.Load()
	leases, err := s.cl.cfg.Leases.Leases(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the lease table could not be read: "+err.Error())
		return
	}
	now := s.clock()
	owned := map[int]bool{}
	for _, l := range leases {
		if l.Live(now) {
			owned[l.Partition] = true
			v.Leases = append(v.Leases, ClusterLeaseView{Partition: l.Partition, Node: l.Node, Epoch: l.Epoch, Expires: l.Expires.UTC()})
		}
	}
	for p := range v.Partitions {
		if !owned[p] {
			v.Unowned = append(v.Unowned, p)
		}
	}
	writeJSON(w, http.StatusOK, v)
}
