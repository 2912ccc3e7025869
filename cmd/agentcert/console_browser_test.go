package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/issuer"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which .ci/run installs; the test never
// downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// viewports are the widths every page is checked and photographed at.
var viewports = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 900}, {"phone", 390, 844}}

// TestConsoleInBrowser drives the auditor console in headless Chromium
// against the real binary: an issuer token is refused at sign-in; the
// auditor signs in, searches, opens a credential, suspends it (and the
// status list serves the suspension), is refused without the CSRF token,
// reinstates it, previews a bulk revocation, checks the audit chain, opens
// the incident queue and signs out. Every page is photographed at 1280 and
// 390 px wide (AGENTCERT_ARTIFACTS_DIR keeps the files) and each picture
// must show something; no page may scroll sideways at 390 px.
func TestConsoleInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("AGENTCERT_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is missing (apt-get install chromium); AGENTCERT_REQUIRE_SERVICES=1 makes this a failure", chromiumPath)
		}
		t.Skipf("%s is missing: apt-get install chromium to run the console's browser test", chromiumPath)
	}
	dir := t.TempDir()
	ts, issuerTok, auditor := startWithTokens(t, dir)
	creds := []issuer.Issued{issueForRevoke(t, ts, issuerTok), issueForRevoke(t, ts, issuerTok)}
	statusOf := func(c issuer.Issued) string {
		t.Helper()
		out, errOut, _ := runRevokeCLI(t, dir, nil, "status", "check", c.Status.URI, strconv.Itoa(c.Status.Idx), "--config", ts.Config, "--issuer", ts.IssuerDID)
		st, _, _ := strings.Cut(out, "\n")
		if st == "" {
			t.Fatalf("status check: %s%s", out, errOut)
		}
		return st
	}

	shots := filepath.Join(t.TempDir(), "console-screenshots")
	if d := os.Getenv("AGENTCERT_ARTIFACTS_DIR"); d != "" {
		shots = filepath.Join(d, "console-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A busy machine must not make the renderer hold back the frames
		// a screenshot waits for.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		run("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
		s, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// shoot photographs the current page at every viewport, checks that
	// each picture shows something and that the narrow one does not
	// scroll sideways, and returns to the desktop width.
	shoot := func(name string) {
		t.Helper()
		for _, vp := range viewports {
			run("viewport", chromedp.EmulateViewport(vp.width, vp.height))
			overflow, err := chromedp.Run(browser, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
			if err != nil {
				t.Fatalf("measure %s: %v", name, err)
			}
			buf, err := screenshot(t, browser, fmt.Sprintf("%s at %d px", name, vp.width))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			file := filepath.Join(shots, fmt.Sprintf("%s-%d.png", name, vp.width))
			if err := os.WriteFile(file, buf, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := notBlank(buf, int(vp.width)); err != nil {
				t.Errorf("%s: %v", file, err)
			}
			if overflow {
				t.Errorf("%s at %d px scrolls sideways", name, vp.width)
			}
		}
		run("desktop width", chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
	}
	signin := func(secret string) {
		t.Helper()
		run("sign in",
			chromedp.Navigate(ts.URL+"/console/signin"),
			chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), secret),
			chromedp.Submit(chromedp.CSS("#token")))
	}

	run("sign-in page", chromedp.Navigate(ts.URL+"/console"), chromedp.WaitVisible(chromedp.CSS("#token")))
	shoot("signin")

	// An issuer token is refused, and the refusal is shown in the page.
	signin(issuerTok)
	if msg := text("p.error"); !strings.Contains(msg, "issuer token cannot sign in") {
		t.Fatalf("issuer sign-in says %q", msg)
	}
	shoot("signin-refused")

	signin(auditor)
	if n := text("#count-active"); n != "2" {
		t.Fatalf("dashboard: %s active", n)
	}
	shoot("dashboard")

	run("search",
		chromedp.Navigate(ts.URL+"/console/credentials"),
		chromedp.WaitVisible(chromedp.CSS("#principal")),
		chromedp.SendKeys(chromedp.CSS("#principal"), "did:web:acme.example"),
		chromedp.SetValue(chromedp.CSS("#status"), "valid"),
		chromedp.Submit(chromedp.CSS("#principal")),
		chromedp.WaitVisible(chromedp.CSS("table.rows tbody tr")))
	rows, err := chromedp.Run(browser, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.rows tbody td[data-label=Credential] a")).map(a => a.textContent)`))
	if err != nil {
		t.Fatalf("result rows: %v", err)
	}
	if len(rows) != 2 {
		t.Fatalf("search found %q", rows)
	}
	shoot("credentials")

	target := creds[0]
	run("open the credential",
		chromedp.Click(chromedp.CSS(`a[href="`+consolePath(target.ID)+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#status")))
	if st := text("#status"); st != "valid" {
		t.Fatalf("credential page: status %q", st)
	}

	run("suspend",
		chromedp.SetValue(chromedp.CSS("#action"), "suspend"),
		chromedp.SetValue(chromedp.CSS("#reason"), "incident"),
		chromedp.SendKeys(chromedp.CSS("#incident"), "INC-42"),
		chromedp.SendKeys(chromedp.CSS("#note"), "reported by a counterparty"),
		chromedp.Submit(chromedp.CSS("#note")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if st := text("#status"); st != "suspended" {
		t.Fatalf("after suspending: status %q", st)
	}
	if st := statusOf(target); st != "suspended" {
		t.Fatalf("the status list serves %q after the suspension", st)
	}
	shoot("credential")

	// Without its CSRF token the form is refused and nothing changes.
	run("reinstate without the CSRF token",
		chromedp.RemoveAttribute(chromedp.CSS(`form.grid input[name="csrf"]`), "name"),
		chromedp.SetValue(chromedp.CSS("#action"), "reinstate"),
		chromedp.SetValue(chromedp.CSS("#reason"), "other"),
		chromedp.Submit(chromedp.CSS("#note")),
		chromedp.WaitVisible(chromedp.CSS("p.error")))
	if msg := text("p.error"); !strings.Contains(msg, "CSRF token is missing or wrong") {
		t.Fatalf("a form without the CSRF token: %q", msg)
	}
	if st := statusOf(target); st != "suspended" {
		t.Fatalf("a refused form changed the status to %q", st)
	}
	shoot("csrf-refused")

	run("reinstate",
		chromedp.Navigate(ts.URL+consolePath(target.ID)),
		chromedp.WaitVisible(chromedp.CSS("#action")),
		chromedp.SetValue(chromedp.CSS("#action"), "reinstate"),
		chromedp.SetValue(chromedp.CSS("#reason"), "other"),
		chromedp.Submit(chromedp.CSS("#note")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if st := text("#status"); st != "valid" {
		t.Fatalf("after reinstating: status %q", st)
	}
	if st := statusOf(target); st != "valid" {
		t.Fatalf("the status list serves %q after the reinstatement", st)
	}

	run("bulk dry run",
		chromedp.Navigate(ts.URL+"/console/bulk"),
		chromedp.WaitVisible(chromedp.CSS("#b_principal")),
		chromedp.SendKeys(chromedp.CSS("#b_principal"), "did:web:acme.example"),
		chromedp.SetValue(chromedp.CSS("#b_reason"), "incident"),
		chromedp.Submit(chromedp.CSS("#b_principal")),
		chromedp.WaitVisible(chromedp.CSS("#preview-count")))
	if n := text("#preview-count"); n != "2" {
		t.Fatalf("bulk preview counts %s", n)
	}
	for _, c := range creds {
		if st := statusOf(c); st != "valid" {
			t.Fatalf("the dry run changed a status to %q", st)
		}
	}
	shoot("bulk-preview")

	run("audit chain check", chromedp.Navigate(ts.URL+"/console/audit"), chromedp.WaitVisible(chromedp.CSS("a.button")),
		chromedp.Click(chromedp.CSS("a.button")), chromedp.WaitVisible(chromedp.CSS("#chain")))
	if msg := text("#chain"); !strings.Contains(msg, "The chain is intact") {
		t.Fatalf("chain check: %q", msg)
	}
	shoot("audit")

	run("incidents", chromedp.Navigate(ts.URL+"/console/incidents"), chromedp.WaitVisible(chromedp.CSS("p.tabs")))
	shoot("incidents")

	run("sign out", chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if msg := text("p.notice"); msg != "You are signed out." {
		t.Fatalf("after sign-out: %q", msg)
	}
	shoot("signed-out")
	run("dashboard after sign-out", chromedp.Navigate(ts.URL+"/console"), chromedp.WaitVisible(chromedp.CSS("#token")))
	loc, err := chromedp.Run(browser, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(loc, "/console/signin") {
		t.Fatalf("after sign-out /console lands on %s", loc)
	}

	// The pictures were all written.
	files, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	if want := 10 * len(viewports); len(files) != want {
		t.Errorf("%d screenshots, want %d", len(files), want)
	}
	if status, _ := ts.Do(http.MethodGet, "/healthz", "", nil); status != http.StatusOK {
		t.Errorf("healthz after the browser session: %d", status)
	}
}

func consolePath(id string) string { return "/console/credentials/" + url.PathEscape(id) }

// notBlank decodes a PNG screenshot and checks that it is as wide as the
// viewport and shows something: the luminance varies, and a fair share of
// pixels differs from the most common colour.
func notBlank(b []byte, width int) error {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not a PNG: %w", err)
	}
	r := img.Bounds()
	if r.Dx() != width || r.Dy() < 100 {
		return fmt.Errorf("picture is %dx%d, want %d wide", r.Dx(), r.Dy(), width)
	}
	var sum, sq float64
	var n int
	counts := map[[3]uint32]int{}
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			l := 0.299*float64(cr>>8) + 0.587*float64(cg>>8) + 0.114*float64(cb>>8)
			sum += l
			sq += l * l
			n++
			counts[[3]uint32{cr >> 8, cg >> 8, cb >> 8}]++
		}
	}
	mean := sum / float64(n)
	sd := math.Sqrt(sq/float64(n) - mean*mean)
	top := 0
	for _, c := range counts {
		top = max(top, c)
	}
	if sd < 8 || float64(n-top)/float64(n) < 0.02 || len(counts) < 16 {
		return fmt.Errorf("the picture looks blank: luminance sd %.1f, %d colours, %.1f%% off the main colour", sd, len(counts), 100*float64(n-top)/float64(n))
	}
	return nil
}

// screenshotTimeout bounds one attempt at a full-page screenshot, and
// screenshotAttempts the attempts: a capture can wait forever for a frame
// the renderer never produces (seen once under the whole suite's load),
// and the next attempt asks for a new one.
const (
	screenshotTimeout  = 30 * time.Second
	screenshotAttempts = 3
)

// screenshot takes a full-page screenshot of the browser's page, trying
// again when an attempt times out.
func screenshot(t *testing.T, browser context.Context, what string) ([]byte, error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(browser, screenshotTimeout)
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err == nil || attempt == screenshotAttempts || !errors.Is(err, context.DeadlineExceeded) {
			return buf, err
		}
		t.Logf("screenshot %s: no picture within %s (attempt %d), trying again", what, screenshotTimeout, attempt)
	}
}
