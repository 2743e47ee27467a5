package server

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pushlab/pushlab/relay"
)

// metrics are the relay's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	connections prometheus.Gauge
	messages    prometheus.Counter
	decisions   *prometheus.CounterVec
	fcmAnswers  *prometheus.CounterVec
	fcmLatency  prometheus.Histogram
	busy        *prometheus.CounterVec
	storeWrite  prometheus.Histogram
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: newRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "relay_connections", Help: "Open app WebSocket connections."}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_messages_stored_total", Help: "Messages stored in users' inboxes (one per recipient)."}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_push_decisions_total", Help: "Push decisions by reason (pushed, online, logged-out, …)."}, []string{"reason"}),
		fcmAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_fcm_answers_total", Help: "FCM answers to pushes: ok or the error code."}, []string{"code"}),
		fcmLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_fcm_send_seconds", Help: "Time from handing a push to the sender to FCM's answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_sends_refused_busy_total", Help: "Sends answered 5003 (busy) because the relay was over capacity, by the bound it was at."}, []string{"bound"}),
		storeWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_store_write_seconds", Help: "Time the store took to write one batch of the loop, from encoding its rows to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
	}
	m.reg.MustRegister(m.connections, m.messages, m.decisions, m.fcmAnswers, m.fcmLatency, m.busy, m.storeWrite,
		newCoreGauges(s.scrapeStats), collectors.NewGoCollector())
	for _, status := range []string{relay.CheckUnchecked, relay.CheckOK, relay.CheckFailed} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relay_certificates",
			Help:        "Certificates by the status of their credentials' check (unchecked, ok, failed).",
			ConstLabels: prometheus.Labels{"check": status}}, func() float64 {
			return float64((*s.certChecks.Load())[status])
		}))
	}
	return m
}

// coreGauges are the gauges of what the core holds — devices logged in and online, pushes
// pending — counted once for each scrape, so that one scrape's gauges agree with each other.
type coreGauges struct {
	count                     func() relay.Stats
	loggedIn, online, pending *prometheus.Desc
}

func newCoreGauges(count func() relay.Stats) coreGauges {
	return coreGauges{count: count,
		loggedIn: prometheus.NewDesc("relay_logged_in_devices", "Devices logged in (online or killed).", nil, nil),
		online:   prometheus.NewDesc("relay_online_devices", "Logged-in devices with a live connection.", nil, nil),
		pending:  prometheus.NewDesc("relay_pending_pushes", "Pushes sent and not finished (in flight or waiting to be retried).", nil, nil),
	}
}

// Describe sends the gauges' descriptions.
func (g coreGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.loggedIn
	ch <- g.online
	ch <- g.pending
}

// Collect counts once and sends the gauges.
func (g coreGauges) Collect(ch chan<- prometheus.Metric) {
	st := g.count()
	ch <- prometheus.MustNewConstMetric(g.loggedIn, prometheus.GaugeValue, float64(st.LoggedIn))
	ch <- prometheus.MustNewConstMetric(g.online, prometheus.GaugeValue, float64(st.Online))
	ch <- prometheus.MustNewConstMetric(g.pending, prometheus.GaugeValue, float64(st.PendingPushes))
}

// observe counts what a Ready's records and trace entries say.
func (m *metrics) observe(records []relay.Record, trace []relay.TraceEntry) {
	for _, r := range records {
		if _, ok := r.(relay.PutMessage); ok {
			m.messages.Inc()
		}
	}
	for _, e := range trace {
		if !strings.HasPrefix(e.Reason, relay.ReasonFCMPrefix) && !strings.HasPrefix(e.Reason, relay.ReasonCertificatePrefix) {
			m.decisions.WithLabelValues(e.Reason).Inc()
		}
	}
}

// fcm counts one FCM answer and its latency.
func (m *metrics) fcm(r relay.PushResult, took time.Duration) {
	code := "ok"
	if r.Err != nil {
		code = r.Err.Code
	}
	m.fcmAnswers.WithLabelValues(code).Inc()
	m.fcmLatency.Observe(took.Seconds())
}
