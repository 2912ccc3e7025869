package benchreport

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Loadavg is the first three fields of /proc/loadavg.
type Loadavg struct {
	One, Five, Fifteen float64
}

func (l Loadavg) String() string {
	return fmt.Sprintf("%.2f / %.2f / %.2f", l.One, l.Five, l.Fifteen)
}

// ParseLoadavg reads the content of /proc/loadavg
// ("0.52 0.58 0.59 1/467 12345").
func ParseLoadavg(s string) (Loadavg, error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return Loadavg{}, fmt.Errorf("loadavg %q: want at least three fields", s)
	}
	var v [3]float64
	for i := range v {
		x, err := strconv.ParseFloat(f[i], 64)
		if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			return Loadavg{}, fmt.Errorf("loadavg %q: field %d is not a load", s, i+1)
		}
		v[i] = x
	}
	return Loadavg{v[0], v[1], v[2]}, nil
}

// CPUModel returns the first "model name" of /proc/cpuinfo's content, or
// "" when there is none.
func CPUModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Machine describes where a run happened.
type Machine struct {
	CPUs      int    // logical CPUs the run could use (runtime.NumCPU)
	CPUModel  string // from /proc/cpuinfo, or the benchmark output's "cpu:" line
	OS, Arch  string
	GoVersion string
	Kernel    string
}

func (m Machine) String() string {
	parts := []string{fmt.Sprintf("%d CPUs", m.CPUs)}
	if m.CPUModel != "" {
		parts = append(parts, m.CPUModel)
	}
	parts = append(parts, m.OS+"/"+m.Arch)
	if m.Kernel != "" {
		parts = append(parts, "kernel "+m.Kernel)
	}
	if m.GoVersion != "" {
		parts = append(parts, m.GoVersion)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
