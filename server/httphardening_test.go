package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestMetricsMethodLabelBounded: the console is served beside the router,
// so it sees every method a client makes up; the request metrics must not
// get a series per made-up method (unbounded label cardinality).
func TestMetricsMethodLabelBounded(t *testing.T) {
	env := NewTestEnv(t, nil)
	if env.Server.console == nil {
		t.Fatal("the test env has no console")
	}
	srv := httptest.NewServer(env.Server.Handler())
	defer srv.Close()
	for i := range 20 {
		req, err := http.NewRequest("MADEUP"+strconv.Itoa(i), srv.URL+"/console/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mfs, err := env.Server.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "agentcert_http_requests_total" && mf.GetName() != "agentcert_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "method" {
					methods[lp.GetValue()] = true
				}
			}
		}
	}
	for m := range methods {
		if methodLabel(m) != m {
			t.Errorf("method label %q: a client's made-up method became a series", m)
		}
	}
	if !methods[methodOther] {
		t.Errorf("made-up methods not counted under %q: %v", methodOther, methods)
	}
}
