package benchreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Load is the part of a `loadgen -json` report (cmd/loadgen, type
// Report) that the report uses.
type Load struct {
	Mode        string         `json:"mode"`
	Loop        string         `json:"loop"` // "closed" or "open"
	Concurrency int            `json:"concurrency"`
	OfferedRate float64        `json:"offered_rate"`
	Requests    int64          `json:"requests"`
	Succeeded   int64          `json:"succeeded"`
	Failed      int64          `json:"failed"`
	Dropped     int64          `json:"dropped"`
	PerSecond   float64        `json:"requests_per_second"`
	OKPerSecond float64        `json:"succeeded_per_second"`
	P50         time.Duration  `json:"p50_ns"`
	P90         time.Duration  `json:"p90_ns"`
	P99         time.Duration  `json:"p99_ns"`
	P999        time.Duration  `json:"p999_ns"`
	Max         time.Duration  `json:"max_ns"`
	Elapsed     time.Duration  `json:"elapsed_ns"`
	Errors      map[string]int `json:"errors"`
	Stopped     string         `json:"stopped"`
}

// ParseLoadgen reads one loadgen -json report. It refuses a report that
// is not one: not a single JSON object, no mode or loop, no request
// answered, counts that do not add up, rates or percentiles that are
// negative, not finite or out of order.
func ParseLoadgen(data []byte) (*Load, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var l Load
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("loadgen report: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("loadgen report: more than one JSON value")
	}
	if l.Mode == "" {
		return nil, fmt.Errorf("loadgen report: no mode")
	}
	if l.Loop != "closed" && l.Loop != "open" {
		return nil, fmt.Errorf("loadgen report: loop %q is neither closed nor open", l.Loop)
	}
	if l.Requests <= 0 {
		return nil, fmt.Errorf("loadgen report: no request was answered (%d)", l.Requests)
	}
	if l.Succeeded < 0 || l.Failed < 0 || l.Dropped < 0 || l.Succeeded+l.Failed != l.Requests {
		return nil, fmt.Errorf("loadgen report: %d succeeded and %d failed of %d requests (%d dropped)", l.Succeeded, l.Failed, l.Requests, l.Dropped)
	}
	for name, v := range map[string]float64{"requests_per_second": l.PerSecond, "succeeded_per_second": l.OKPerSecond, "offered_rate": l.OfferedRate} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("loadgen report: %s is %v", name, v)
		}
	}
	if l.Loop == "open" && l.OfferedRate <= 0 {
		return nil, fmt.Errorf("loadgen report: an open loop without an offered rate")
	}
	if l.P50 < 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		return nil, fmt.Errorf("loadgen report: percentiles out of order (p50 %v, p90 %v, p99 %v, p99.9 %v, max %v)", l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	if l.Elapsed <= 0 {
		return nil, fmt.Errorf("loadgen report: elapsed %v", l.Elapsed)
	}
	return &l, nil
}

// Clean reports whether every request of the run succeeded and none was
// dropped.
func (l *Load) Clean() bool { return l.Failed == 0 && l.Dropped == 0 }

// Trouble says what went wrong in the run ("" when it was clean): the
// failures by status and the dropped requests.
func (l *Load) Trouble() string {
	if l.Clean() {
		return ""
	}
	var parts []string
	if l.Failed > 0 {
		parts = append(parts, strconv.FormatInt(l.Failed, 10)+" failed")
		keys := sortedKeys(l.Errors)
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, l.Errors[k]))
		}
	}
	if l.Dropped > 0 {
		parts = append(parts, strconv.FormatInt(l.Dropped, 10)+" dropped")
	}
	return strings.Join(parts, ", ")
}
