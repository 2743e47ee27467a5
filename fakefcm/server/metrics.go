package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushlab/pushlab/fakefcm"
)

// statsCollector exposes the core's running totals to Prometheus, read at scrape time.
type statsCollector struct {
	s         *Server
	accepted  *prometheus.Desc
	rejected  *prometheus.Desc
	delivered *prometheus.Desc
	dropped   *prometheus.Desc
	throttled *prometheus.Desc
	pending   *prometheus.Desc
	devices   *prometheus.Desc
	connected *prometheus.Desc
}

func newStatsCollector(s *Server) *statsCollector {
	return &statsCollector{
		s:         s,
		accepted:  prometheus.NewDesc("fakefcm_messages_accepted_total", "Messages fakefcm accepted (HTTP v1 and legacy).", nil, nil),
		rejected:  prometheus.NewDesc("fakefcm_messages_rejected_total", "Sends fakefcm refused, by FCM error code.", []string{"code"}, nil),
		delivered: prometheus.NewDesc("fakefcm_messages_delivered_total", "Messages devices acknowledged.", nil, nil),
		dropped:   prometheus.NewDesc("fakefcm_messages_dropped_total", "Accepted messages that will never be delivered, by fate.", []string{"fate"}, nil),
		throttled: prometheus.NewDesc("fakefcm_messages_throttled_total", "Messages a throttle delayed or refused, by throttle.", []string{"throttle"}, nil),
		pending:   prometheus.NewDesc("fakefcm_messages_pending", "Messages waiting for their device.", nil, nil),
		devices:   prometheus.NewDesc("fakefcm_devices_registered", "Registered tokens.", nil, nil),
		connected: prometheus.NewDesc("fakefcm_devices_connected", "Tokens with an open device channel.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.accepted, c.rejected, c.delivered, c.dropped, c.throttled, c.pending, c.devices, c.connected} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	var st fakefcm.Stats
	c.s.view(func() { st = c.s.core.Stats() })
	ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(st.Accepted))
	ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(st.Delivered))
	for code, n := range st.Rejected {
		ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(n), string(code))
	}
	for fate, n := range st.Dropped {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n), string(fate))
	}
	for reason, n := range st.Throttled {
		ch <- prometheus.MustNewConstMetric(c.throttled, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(st.Devices))
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, float64(st.Connected))
}
