package api_test

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"smsflow/internal/testenv"
)

// chromiumPath finds the system's Chromium. In CI it must be there (.ci/run installs the Debian
// package); elsewhere a machine without it skips the browser tests.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "Chromium is missing (.ci/run installs it: apt-get install chromium); the statistics page is not checked in a browser")
	return ""
}

// The statistics page, opened with a link in headless Chromium, draws the campaign's figures:
// the charts hold the figures of the API and their canvases are painted in the series' colours.
func TestStatsPageInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	e := newStatsEnv(t)
	srv := httptest.NewServer(e.router)
	defer srv.Close()
	q := e.link(t, 700)
	q.Set("campaign", "spring")

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/stats?"+q.Encode())); err != nil {
		t.Fatalf("browser: open the page: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.smsflowStats && (window.smsflowStats.ready || !!window.smsflowStats.error)`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("browser: the page never finished drawing: %v", err)
	}
	failure := evaluate[string](t, ctx, `window.smsflowStats.error || ''`)
	labels := evaluate[[]string](t, ctx, `Chart.getChart(document.getElementById('chart-days')).data.labels`)
	series := evaluate[[]string](t, ctx, `Chart.getChart(document.getElementById('chart-days')).data.datasets.map(d => d.label)`)
	sent := evaluate[[]int](t, ctx, `Chart.getChart(document.getElementById('chart-days')).data.datasets[0].data`)
	// Pixels of the canvas in the "Sent" bars' colour (#516f90): the bars were drawn.
	painted := evaluate[int](t, ctx, `(() => {
		const c = document.getElementById('chart-days');
		const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < px.length; i += 4) {
			if (px[i] === 0x51 && px[i+1] === 0x6f && px[i+2] === 0x90 && px[i+3] === 255) n++;
		}
		return n;
	})()`)
	tile := evaluate[string](t, ctx, `document.querySelector('[data-figure="Messages"] .value').textContent`)
	t.Logf("chart by day: labels %v, series %v, sent %v, %d pixels of Sent bars", labels, series, sent, painted)
	if failure != "" {
		t.Fatalf("the page shows an error: %s", failure)
	}
	if !slices.Equal(labels, []string{"2026-03-02", "2026-03-03"}) || !slices.Equal(sent, []int{2, 1}) || len(series) == 0 || series[0] != "Sent" {
		t.Errorf("chart by day: labels %v, series %v, sent %v; want the two days with 2 and 1 sent", labels, series, sent)
	}
	if painted < 500 {
		t.Errorf("%d pixels of the Sent bars painted on the canvas, want a drawn chart", painted)
	}
	if tile != "3" {
		t.Errorf("Messages tile %q, want 3", tile)
	}

	// A page opened with a forged link shows no figure.
	q.Set("sig", "forged")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/stats?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	status := evaluate[string](t, ctx, `document.body.textContent`)
	if want := "This statistics link has expired or is not valid"; len(status) < len(want) || status[:len(want)] != want {
		t.Errorf("forged link page says %q", status)
	}
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func evaluate[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("browser: %s: %v", expression, err)
	}
	return v
}
