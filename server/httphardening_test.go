package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
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

// TestHandlerPanicAnswered500: a handler that panics is answered 500
// internal (problem+json, with the request id), logged with the route and
// the request id, and the request log still gets its line; net/http's own
// recovery would only close the connection and leave no request log line.
func TestHandlerPanicAnswered500(t *testing.T) {
	env := NewTestEnv(t, nil)
	var logs bytes.Buffer
	s := env.Server
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	h := s.logRequests(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/audit?secret=x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(RequestIDHeader, "panic-1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("a panicking handler dropped the connection: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500: %s", resp.StatusCode, b)
	}
	var p Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Code != errcode.Internal || p.RequestID != "panic-1" || strings.Contains(string(b), "boom") {
		t.Fatalf("answer %s (%v), want an internal problem with the request id and not the panic's value", b, err)
	}
	out := logs.String()
	for _, want := range []string{`"msg":"handler panicked"`, `"request_id":"panic-1"`, `"msg":"request"`, `"status":500`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret=x") {
		t.Errorf("log holds the query:\n%s", out)
	}
}

// TestHandlerAbortStillAborts: http.ErrAbortHandler, and a panic after
// the answer has begun, still abort the connection (the client must not
// take a cut answer for a whole one).
func TestHandlerAbortStillAborts(t *testing.T) {
	env := NewTestEnv(t, nil)
	s := env.Server
	s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, h := range map[string]http.HandlerFunc{
		"ErrAbortHandler": func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
		"after writing": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("partial"))
			panic("boom")
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(s.logRequests(h))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.Start()
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/x")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Fatalf("status %d: the answer was not aborted", resp.StatusCode)
			}
		})
	}
}
