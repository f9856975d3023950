package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Plots are drawn on the server as inline SVG: the template writes the
// elements from these values (numbers the server computed, labels it
// escapes like any text), so a plot needs no script and no image request.

// Plot is one chart: a title for screen readers, its size, and what it
// draws. Every coordinate is in the viewBox's units.
type Plot struct {
	Title  string
	Width  int
	Height int
	Lines  []Polyline
	Bars   []Bar
	Rules  []Rule // horizontal reference lines (a threshold, a limit)
	XTicks []Tick
	YTicks []Tick
	Empty  string // shown instead when there is nothing to draw
	// The axes' corners, and whether bars are labelled under the axis
	// (few bars) or only in their tooltips.
	X0, Y0, X1, Y1 float64
	Labels         bool
}

func newPlot(title string) Plot {
	return Plot{Title: title, Width: plotW, Height: plotH, X0: padL, Y0: padT, X1: plotW - padR, Y1: plotH - padB}
}

// Polyline is a series drawn as a line; Class is its CSS class.
type Polyline struct {
	Points string
	Class  string
}

// Bar is one bar with its label and the value it shows.
type Bar struct {
	X, Y, W, H float64
	Class      string
	Label      string // under the bar
	Value      string // above the bar, and the bar's tooltip
	LabelX     float64
}

// Rule is a horizontal line across the plot with its label.
type Rule struct {
	Y     float64
	Label string
	Class string
}

// Tick is an axis label at a position.
type Tick struct {
	X, Y  float64
	Label string
}

const (
	plotW, plotH               = 720, 220
	padL, padR, padT, padB     = 56.0, 16.0, 16.0, 36.0
	innerW, innerH             = plotW - padL - padR, plotH - padT - padB
	plotMaxBars            int = 60
)

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// StalenessSample is a site's staleness at an instant.
type StalenessSample struct {
	At        time.Time
	Staleness time.Duration
}

// StalenessPlot draws a site's staleness over time against its time to
// compliance ttc (0: none).
func StalenessPlot(title string, samples []StalenessSample, ttc time.Duration) Plot {
	p := newPlot(title)
	if len(samples) < 2 {
		p.Empty = "not enough history to plot yet"
		return p
	}
	t0, t1 := samples[0].At, samples[len(samples)-1].At
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	maxS := ttc
	for _, s := range samples {
		maxS = max(maxS, s.Staleness)
	}
	if maxS <= 0 {
		maxS = time.Hour
	}
	maxS += maxS / 10
	x := func(t time.Time) float64 { return padL + innerW*float64(t.Sub(t0))/float64(span) }
	y := func(d time.Duration) float64 { return padT + innerH*(1-float64(d)/float64(maxS)) }
	var b strings.Builder
	for i, s := range samples {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f1(x(s.At)) + "," + f1(y(s.Staleness)))
	}
	p.Lines = []Polyline{{Points: b.String(), Class: "series"}}
	if ttc > 0 {
		p.Rules = []Rule{{Y: y(ttc), Label: "time to compliance " + Duration(ttc), Class: "limit"}}
	}
	for i := 0; i <= 4; i++ {
		d := maxS * time.Duration(i) / 4
		p.YTicks = append(p.YTicks, Tick{X: padL - 6, Y: y(d) + 4, Label: Duration(d)})
		t := t0.Add(span * time.Duration(i) / 4)
		p.XTicks = append(p.XTicks, Tick{X: x(t), Y: plotH - padB + 16, Label: t.UTC().Format("01-02 15:04")})
	}
	return p
}

// BarValue is one bar to draw: a label, a value and how it reads.
type BarValue struct {
	Label string
	Value float64
	Text  string
	Bad   bool
}

// BarPlot draws values between 0 and maxV (the first plotMaxBars), with
// a reference rule at rule when rule > 0.
func BarPlot(title string, vals []BarValue, maxV, rule float64, ruleLabel string) Plot {
	p := newPlot(title)
	if len(vals) == 0 {
		p.Empty = "nothing to plot"
		return p
	}
	if len(vals) > plotMaxBars {
		vals = vals[:plotMaxBars]
	}
	for _, v := range vals {
		maxV = max(maxV, v.Value)
	}
	if maxV <= 0 {
		maxV = 1
	}
	p.Labels = len(vals) <= 12
	slot := innerW / float64(len(vals))
	w := min(slot*0.7, 80)
	y := func(v float64) float64 { return padT + innerH*(1-v/maxV) }
	for i, v := range vals {
		cls := "bar"
		if v.Bad {
			cls = "bar bad"
		}
		x := padL + slot*float64(i) + (slot-w)/2
		top := y(max(v.Value, 0))
		p.Bars = append(p.Bars, Bar{X: x, Y: top, W: w, H: padT + innerH - top, Class: cls, Label: v.Label, Value: v.Text, LabelX: x + w/2})
	}
	if rule > 0 {
		p.Rules = []Rule{{Y: y(rule), Label: ruleLabel, Class: "limit"}}
	}
	for i := 0; i <= 4; i++ {
		v := maxV * float64(i) / 4
		p.YTicks = append(p.YTicks, Tick{X: padL - 6, Y: y(v) + 4, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return p
}

// Duration renders d for people: 45s, 12m, 3h20m, 4d6h.
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}
