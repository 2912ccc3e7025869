// Package benchreport is the core of `make bench-report` (cmd/benchreport):
// it reads what the measuring tools print and writes the generated tables
// of docs/benchmarks.md. It runs nothing itself.
//
//   - ParseBench reads `go test -bench` output (or a test binary's
//     -test.bench output) into results with every metric by unit, the
//     ratios the benchmarks report with b.ReportMetric included;
//   - ParseLoadgen reads one `loadgen -json` report;
//   - ParseLoadavg reads /proc/loadavg;
//   - Figures holds one run's measurements, Rows judges them against the
//     targets of issue 12 (each row: target, measured, ratio, pass or
//     miss) and Render writes the markdown;
//   - Rewrite replaces what lies between BeginMarker and EndMarker in a
//     document and leaves every byte outside them as it was.
package benchreport
