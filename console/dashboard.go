package console

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/agentcert/agentcert/internal/records"
)

// Charts are drawn on the server as SVG: a viewBox the page scales to its
// width, bars coloured by class from the stylesheet (no inline style, which
// the Content-Security-Policy forbids).

// bar is one bar of a chart, in viewBox units.
type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string // the tooltip: label and value
	Label      string // drawn beside a horizontal bar
	LabelX     float64
	LabelY     float64
	Value      string
	ValueX     float64
}

// chart is one SVG chart.
type chart struct {
	Title         string
	Width, Height float64
	Bars          []bar
	Axis          []axisLabel
	Empty         bool
	AriaLabel     string
	BaselineY     float64 // the x axis of a day chart, 0 for none
	BaselineX2    float64
	TotalCaption  string
}

type axisLabel struct {
	X, Y   float64
	Text   string
	Anchor string
}

const (
	dayChartW, dayChartH = 600.0, 200.0
	dayChartTop          = 20.0
	dayChartBottom       = 30.0 // room for the date labels
	hbarRow              = 34.0
	hbarLabelW           = 170.0
	hbarW                = 600.0
)

// dayChart draws one bar per day of counts, oldest left.
func dayChart(title, class string, days []string, counts map[string]int) chart {
	ch := chart{Title: title, Width: dayChartW, Height: dayChartH, AriaLabel: title}
	max, total := 0, 0
	for _, d := range days {
		if counts[d] > max {
			max = counts[d]
		}
		total += counts[d]
	}
	ch.TotalCaption = fmt.Sprintf("%d in %d days", total, len(days))
	plotH := dayChartH - dayChartTop - dayChartBottom
	slot := dayChartW / float64(len(days))
	ch.BaselineY, ch.BaselineX2 = dayChartH-dayChartBottom, dayChartW
	for i, d := range days {
		n := counts[d]
		h := 0.0
		if max > 0 {
			h = plotH * float64(n) / float64(max)
		}
		if n > 0 && h < 1 {
			h = 1
		}
		ch.Bars = append(ch.Bars, bar{X: float64(i)*slot + slot*0.15, Y: dayChartH - dayChartBottom - h, W: slot * 0.7, H: h, Class: class, Title: d + ": " + strconv.Itoa(n)})
	}
	ch.Axis = []axisLabel{
		{X: 0, Y: dayChartH - 8, Text: days[0], Anchor: "start"},
		{X: dayChartW, Y: dayChartH - 8, Text: days[len(days)-1], Anchor: "end"},
		{X: 0, Y: 14, Text: "max " + strconv.Itoa(max) + " a day", Anchor: "start"},
	}
	ch.Empty = total == 0
	return ch
}

// hbarRowData is one row of a horizontal bar chart: value of max.
type hbarRowData struct {
	Label, Class string
	Value, Max   int
	Text         string
}

// hbarChart draws one horizontal bar per row, scaled to each row's Max.
func hbarChart(title string, rows []hbarRowData) chart {
	ch := chart{Title: title, Width: hbarW, Height: hbarRow*float64(len(rows)) + 4, AriaLabel: title}
	plotW := hbarW - hbarLabelW - 90
	for i, r := range rows {
		w := 0.0
		if r.Max > 0 {
			w = plotW * float64(r.Value) / float64(r.Max)
		}
		if r.Value > 0 && w < 1 {
			w = 1
		}
		y := float64(i)*hbarRow + 6
		ch.Bars = append(ch.Bars, bar{X: hbarLabelW, Y: y, W: w, H: hbarRow - 12, Class: r.Class, Title: r.Label + ": " + r.Text,
			Label: r.Label, LabelX: hbarLabelW - 8, LabelY: y + (hbarRow-12)/2 + 5, Value: r.Text, ValueX: hbarLabelW + w + 6})
	}
	ch.Empty = len(rows) == 0
	return ch
}

type dashboardData struct {
	Charts []chart
	Counts map[string]int
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	now := c.o.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	since := today.AddDate(0, 0, -(chartDays - 1))
	v := view{Title: "Dashboard", Nav: "dashboard", Session: s}
	st, err := c.o.Store.CredentialStats(r.Context(), since)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	lists, err := c.o.Store.StatusLists(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	days := make([]string, chartDays)
	for i := range days {
		days[i] = since.AddDate(0, 0, i).Format(time.DateOnly)
	}
	d := &dashboardData{Counts: map[string]int{}}
	total := 0
	for _, n := range st.ByStatus {
		total += n
	}
	var statusRows []hbarRowData
	for _, sv := range []uint8{records.StatusValid, records.StatusSuspended, records.StatusRevoked} {
		n := st.ByStatus[sv]
		name := statusName(sv)
		if sv == records.StatusValid {
			name = "active"
		}
		d.Counts[name] = n
		statusRows = append(statusRows, hbarRowData{Label: name, Class: "bar-" + statusName(sv), Value: n, Max: total, Text: strconv.Itoa(n)})
	}
	var fill []hbarRowData
	for _, l := range lists {
		pct := 0.0
		if l.Size > 0 {
			pct = 100 * float64(l.Used) / float64(l.Size)
		}
		fill = append(fill, hbarRowData{Label: l.ID, Class: "bar-fill", Value: l.Used, Max: l.Size, Text: fmt.Sprintf("%d of %d (%.1f%%)", l.Used, l.Size, pct)})
	}
	d.Charts = []chart{
		dayChart("Issued per day (UTC)", "bar-issued", days, st.IssuedPerDay),
		dayChart("Revoked per day (UTC)", "bar-revoked", days, st.RevokedPerDay),
		hbarChart("Credentials by status", statusRows),
		hbarChart("Status list fill", fill),
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "dashboard", v)
}
