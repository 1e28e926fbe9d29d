package metrics

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Temporal is the Temporal SDK's metrics handler writing into Registry: set it as
// client.Options.MetricsHandler, and the client and the workers built on it report their
// temporal_* series (requests, polls, workflow and activity tasks, latencies). Counters are named
// <name>_total, timers are histograms <name>_seconds, gauges keep their name.
var Temporal client.MetricsHandler = temporalHandler{}

// temporalSeries is the collector of every SDK series, created on first use: the SDK's tags vary
// by call site, so each series carries its own label set.
var temporalSeries = &sdkCollector{series: map[string]prometheus.Collector{}}

// timerBuckets fit the SDK's latencies: a poll or a task, milliseconds to a minute.
var timerBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

type sdkCollector struct {
	mu     sync.Mutex
	series map[string]prometheus.Collector
}

// Describe describes nothing: the series appear as the SDK creates them (an unchecked collector).
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	all := make([]prometheus.Collector, 0, len(c.series))
	for _, s := range c.series {
		all = append(all, s)
	}
	c.mu.Unlock()
	for _, s := range all {
		s.Collect(ch)
	}
}

// get returns the series of kind and name with tags, creating it with newSeries.
func (c *sdkCollector) get(kind, name string, tags map[string]string, newSeries func(prometheus.Labels) prometheus.Collector) prometheus.Collector {
	labels := prometheus.Labels{}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		k = labelName(k)
		labels[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var key strings.Builder
	key.WriteString(kind + "\x00" + name)
	for _, k := range keys {
		key.WriteString("\x00" + k + "=" + labels[k])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.series[key.String()]
	if !ok {
		s = newSeries(labels)
		c.series[key.String()] = s
	}
	return s
}

// labelName makes a tag key a valid Prometheus label name.
func labelName(k string) string {
	b := []byte(k)
	for i, r := range b {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// temporalHandler is the SDK's view: a tag set over temporalSeries.
type temporalHandler struct {
	tags map[string]string
}

func (h temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return temporalHandler{tags: merged}
}

func (h temporalHandler) Counter(name string) client.MetricsCounter {
	name = strings.TrimSuffix(name, "_total") + "_total"
	c := temporalSeries.get("counter", name, h.tags, func(l prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "Temporal SDK counter.", ConstLabels: l})
	}).(prometheus.Counter)
	return counter{c}
}

func (h temporalHandler) Gauge(name string) client.MetricsGauge {
	g := temporalSeries.get("gauge", name, h.tags, func(l prometheus.Labels) prometheus.Collector {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "Temporal SDK gauge.", ConstLabels: l})
	}).(prometheus.Gauge)
	return gauge{g}
}

func (h temporalHandler) Timer(name string) client.MetricsTimer {
	name += "_seconds"
	hist := temporalSeries.get("timer", name, h.tags, func(l prometheus.Labels) prometheus.Collector {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: "Temporal SDK timer, in seconds.", ConstLabels: l, Buckets: timerBuckets})
	}).(prometheus.Histogram)
	return timer{hist}
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(n int64) {
	if n > 0 {
		c.c.Add(float64(n))
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ h prometheus.Histogram }

func (t timer) Record(d time.Duration) { t.h.Observe(d.Seconds()) }
