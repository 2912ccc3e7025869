package server

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentcert/agentcert/internal/admission"
	"github.com/agentcert/agentcert/internal/store"
)

// metrics are per server (no global registry).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	issued   prometheus.Counter
	statusCh *prometheus.CounterVec
	verified *prometheus.CounterVec

	admitted *prometheus.CounterVec // by class
	queued   *prometheus.CounterVec // by class: requests that waited for a slot, whatever came of it
	shedded  *prometheus.CounterVec // by class and reason

	connLimitReached prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcert_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentcert_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentcert_credentials_issued_total", Help: "Credentials issued.",
		}),
		statusCh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcert_status_changes_total", Help: "Credential status changes by new status.",
		}, []string{"status"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcert_verifications_total", Help: "Verifications by outcome code (ok when verified).",
		}, []string{"code"}),
		admitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcert_admission_admitted_total", Help: "Requests admitted to their handler, by route class.",
		}, []string{"class"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcert_admission_queued_total", Help: "Requests that waited for a slot of their route class (admitted or not).",
		}, []string{"class"}),
		shedded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentcert_admission_shed_total", Help: "Requests refused by load shedding, by route class and reason (queue_full, queue_timeout, client_gone: 503; token_rate: 429).",
		}, []string{"class", "reason"}),
	}
	m.connLimitReached = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "agentcert_http_connection_limit_reached_total", Help: "Times the open connections reached http.max_connections (answers then close their connection until they are below it).",
	})
	m.reg.MustRegister(m.requests, m.latency, m.issued, m.statusCh, m.verified, m.admitted, m.queued, m.shedded, m.connLimitReached,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// instrument records count and latency under the route's template.
func (m *metrics) instrument(next http.Handler) http.Handler { return m.instrumentAs("", next) }

// instrumentAs counts requests under the mux route's template, or under
// fixed when it is not empty.
func (m *metrics) instrumentAs(fixed string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := fixed
		if route == "" {
			route = "unmatched"
			if cr := mux.CurrentRoute(r); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					route = t
				}
			}
		}
		method := methodLabel(r.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(rec.status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// methodOther is the method label of every method methodLabel does not
// know.
const methodOther = "OTHER"

// methodLabel is the method label of a request's method: the standard
// methods by name, any other as methodOther. A client can send any token
// as a method, and the console, served beside the router, sees them all:
// as a label each would make a series of its own.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return methodOther
}

func (m *metrics) admit(class string, queued bool) {
	m.admitted.WithLabelValues(class).Inc()
	if queued {
		m.queued.WithLabelValues(class).Inc()
	}
}

func (m *metrics) shed(class, reason string) {
	m.shedded.WithLabelValues(class, reason).Inc()
	if reason == "queue_timeout" || reason == "client_gone" {
		m.queued.WithLabelValues(class).Inc()
	}
}

// watchStore publishes the store's count of writes refused because its
// storage was full or read-only.
func (m *metrics) watchStore(st interface{ Stats() store.Stats }) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "agentcert_store_writes_refused_total", Help: "Writes the store refused because its storage was full or read-only (503 storage_unwritable).",
	}, func() float64 { return float64(st.Stats().Refused) }))
}

// watchConns publishes the open connections and their bound (0 before
// Serve or without http.max_connections).
func (m *metrics) watchConns(p *atomic.Pointer[admission.ConnLimiter]) {
	read := func(f func(*admission.ConnLimiter) int) func() float64 {
		return func() float64 {
			if cl := p.Load(); cl != nil {
				return float64(f(cl))
			}
			return 0
		}
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentcert_http_connections_open", Help: "Connections open now (counted when http.max_connections bounds them).",
		}, read((*admission.ConnLimiter).Open)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentcert_http_max_connections", Help: "The bound on open connections (http.max_connections; 0: none).",
		}, read((*admission.ConnLimiter).Max)),
	)
}

// watchAdmission publishes each class's slots in use and queue length,
// its bounds, and whether it is overloaded.
func (m *metrics) watchAdmission(a *admitter) {
	for class, l := range a.classes {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentcert_admission_in_flight", Help: "Requests holding a slot of their route class now.", ConstLabels: prometheus.Labels{"class": class},
			}, func() float64 { return float64(l.Active()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentcert_admission_waiting", Help: "Requests waiting for a slot of their route class now.", ConstLabels: prometheus.Labels{"class": class},
			}, func() float64 { return float64(l.Waiting()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentcert_admission_max_concurrent", Help: "Slots of the route class (http.admission.<class>.max_concurrent, or what 0 derived from GOMAXPROCS).", ConstLabels: prometheus.Labels{"class": class},
			}, func() float64 { return float64(l.Limits().MaxConcurrent) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentcert_admission_max_queue", Help: "Queue bound of the route class (http.admission.<class>.max_queue).", ConstLabels: prometheus.Labels{"class": class},
			}, func() float64 { return float64(l.Limits().MaxQueue) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentcert_admission_overloaded", Help: "1 while the route class is overloaded: its queue stayed long (more work than its slots get through in http.admission.overload_wait) for overload_after, and has not stayed short as long since (served newest first, waits cut to overload_wait).", ConstLabels: prometheus.Labels{"class": class},
			}, func() float64 {
				if l.Overloaded() {
					return 1
				}
				return 0
			}),
		)
	}
}
