package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// maxMixWeight bounds the sum of -mix weights (the length of one cycle).
const maxMixWeight = 1000

// target builds the requests of one kind.
type target struct {
	kind, method, url string
	// body makes request i's body (nil for none); it may talk to the
	// server first (a nonce), with the run's client.
	body   func(ctx context.Context, c *http.Client, i int64) ([]byte, error)
	header func(i int64) http.Header
	// check classifies a 2xx answer: "" is a success, anything else the
	// error class it is counted under.
	check func(status int, body []byte) string
}

// workload is the targets of a run and the order in which they take turns:
// request i is of kind targets[cycle[i % len(cycle)]].
type workload struct {
	targets []*target
	cycle   []int
	host    string // host:port of an http:// -url ("" for https://)
}

func newWorkload(o options) (*workload, error) {
	if o.n <= 0 || o.c <= 0 {
		return nil, errors.New("-n and -c must be positive")
	}
	if o.duration <= 0 || o.timeout <= 0 {
		return nil, errors.New("-duration and -timeout must be positive")
	}
	if o.rate < 0 || o.maxInflight <= 0 {
		return nil, errors.New("-rate must not be negative and -max-inflight must be positive")
	}
	base, err := url.Parse(strings.TrimRight(o.url, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("-url %q is not an http(s) URL", o.url)
	}
	if o.client != "lean" && o.client != "std" {
		return nil, fmt.Errorf("-client %q: use lean or std", o.client)
	}
	host := ""
	if base.Scheme == "http" {
		host = base.Host
		if base.Port() == "" {
			host += ":80"
		}
	}
	if o.mode != "mix" {
		if o.mix != "" {
			return nil, errors.New("-mix goes with -mode mix")
		}
		t, err := newTarget(o.mode, o, base.String())
		if err != nil {
			return nil, err
		}
		return &workload{targets: []*target{t}, cycle: []int{0}, host: host}, nil
	}
	kinds, weights, err := parseMix(o.mix)
	if err != nil {
		return nil, err
	}
	w := &workload{host: host}
	for _, k := range kinds {
		t, err := newTarget(k, o, base.String())
		if err != nil {
			return nil, fmt.Errorf("-mix %s: %w", k, err)
		}
		w.targets = append(w.targets, t)
	}
	w.cycle = interleave(weights)
	return w, nil
}

// parseMix reads "verify=8,issue=1,status=1".
func parseMix(s string) ([]string, []int, error) {
	if s == "" {
		return nil, nil, errors.New("-mode mix needs -mix, e.g. verify=8,issue=1,status=1")
	}
	var kinds []string
	var weights []int
	seen, total := map[string]bool{}, 0
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("-mix: %q is not kind=positive-weight", part)
		}
		switch k {
		case "verify", "issue", "status", "post":
		default:
			return nil, nil, fmt.Errorf("-mix: kind %q: use verify, issue, status or post", k)
		}
		if seen[k] {
			return nil, nil, fmt.Errorf("-mix: kind %q named twice", k)
		}
		seen[k] = true
		if total += n; total > maxMixWeight {
			return nil, nil, fmt.Errorf("-mix: weights add up to more than %d", maxMixWeight)
		}
		kinds, weights = append(kinds, k), append(weights, n)
	}
	return kinds, weights, nil
}

// interleave spreads the kinds over one cycle of sum(weights) turns as
// evenly as their weights allow (smooth weighted round robin), so that a
// short run still sees every kind in proportion.
func interleave(weights []int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	current := make([]int, len(weights))
	cycle := make([]int, 0, total)
	for range total {
		best := 0
		for k, w := range weights {
			current[k] += w
			if current[k] > current[best] {
				best = k
			}
		}
		current[best] -= total
		cycle = append(cycle, best)
	}
	return cycle
}

func newTarget(kind string, o options, base string) (*target, error) {
	hdr := http.Header{"Content-Type": {"application/json"}}
	if o.token != "" {
		hdr.Set("Authorization", "Bearer "+o.token)
	}
	fixed := func(b []byte) func(context.Context, *http.Client, int64) ([]byte, error) {
		return func(context.Context, *http.Client, int64) ([]byte, error) { return b, nil }
	}
	t := &target{kind: kind, method: http.MethodPost, header: func(int64) http.Header { return hdr }, check: func(int, []byte) string { return "" }}
	switch kind {
	case "issue":
		if o.token == "" {
			return nil, errors.New("-mode issue needs -token (role issuer)")
		}
		body, err := issueBody()
		if err != nil {
			return nil, err
		}
		t.url = base + "/v1/credentials"
		t.body = fixed(body)
		if o.idempotency {
			prefix := randomHex(8)
			t.header = func(i int64) http.Header {
				h := hdr.Clone()
				h.Set("Idempotency-Key", fmt.Sprintf("loadgen-%s-%d", prefix, i))
				return h
			}
		}
	case "verify":
		if o.presentation == "" || o.aud == "" {
			return nil, errors.New("-mode verify needs -presentation and -aud")
		}
		p, err := os.ReadFile(o.presentation)
		if err != nil {
			return nil, err
		}
		pres := strings.TrimSpace(string(p))
		t.url = base + "/v1/verify"
		t.check = checkVerified
		if !o.fresh {
			if o.key != "" || o.serverNonce {
				return nil, errors.New("-key and -server-nonce go with -fresh")
			}
			body, err := json.Marshal(map[string]string{"presentation": pres, "audience": o.aud, "nonce": o.nonce, "action": o.action})
			if err != nil {
				return nil, err
			}
			t.body = fixed(body)
			break
		}
		t.body, err = freshVerify(o, base, pres)
		if err != nil {
			return nil, err
		}
	case "status":
		if !strings.HasPrefix(o.statusPath, "/") {
			return nil, errors.New("-mode status needs -status-path /...")
		}
		t.method, t.url = http.MethodGet, base+o.statusPath
		t.body = fixed(nil)
		get := http.Header{"Accept": {"application/statuslist+jwt"}}
		t.header = func(int64) http.Header { return get }
	case "post":
		if o.body == "" || !strings.HasPrefix(o.path, "/") {
			return nil, errors.New("-mode post needs -body FILE and -path /...")
		}
		body, err := os.ReadFile(o.body)
		if err != nil {
			return nil, err
		}
		if !json.Valid(body) {
			return nil, fmt.Errorf("%s is not JSON", o.body)
		}
		t.url = base + o.path
		t.body = fixed(body)
	default:
		return nil, fmt.Errorf("-mode %q: use issue, verify, status, post or mix", kind)
	}
	return t, nil
}

// freshVerify makes verify bodies whose presentations each carry their own
// KB-JWT over the disclosures of pres.
func freshVerify(o options, base, pres string) (func(context.Context, *http.Client, int64) ([]byte, error), error) {
	if o.key == "" {
		return nil, errors.New("-fresh needs -key, the holder's private JWK")
	}
	key, err := keyutil.ReadPrivateFile(o.key)
	if err != nil {
		return nil, err
	}
	if i := strings.LastIndexByte(pres, '~'); i >= 0 && i < len(pres)-1 {
		return nil, errors.New("-fresh: -presentation must not carry a KB-JWT (end it with '~')")
	}
	// Check once that the key can bind this presentation.
	if _, err := sdjwt.AddKeyBinding(pres, &sdjwt.KBOptions{Key: key, Audience: o.aud, Nonce: "check"}); err != nil {
		return nil, fmt.Errorf("-fresh: %w", err)
	}
	prefix := o.nonce
	if prefix == "" {
		prefix = "loadgen-" + randomHex(6)
	}
	nonceURL := base + "/v1/nonce"
	return func(ctx context.Context, c *http.Client, i int64) ([]byte, error) {
		nonce := fmt.Sprintf("%s-%d", prefix, i)
		if o.serverNonce {
			n, err := fetchNonce(ctx, c, nonceURL)
			if err != nil {
				return nil, err
			}
			nonce = n
		}
		p, err := sdjwt.AddKeyBinding(pres, &sdjwt.KBOptions{Key: key, Audience: o.aud, Nonce: nonce, IssuedAt: time.Now()})
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{"presentation": p, "audience": o.aud, "nonce": nonce, "action": o.action})
	}, nil
}

// errNonce marks a failed GET /v1/nonce.
var errNonce = errors.New("nonce")

func fetchNonce(ctx context.Context, c *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNonce, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNonce, err)
	}
	var v struct {
		Nonce string `json:"nonce"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil || v.Nonce == "" {
		return "", fmt.Errorf("%w: GET /v1/nonce answered %d", errNonce, resp.StatusCode)
	}
	return v.Nonce, nil
}

// verifiedPrefix is how agentcert's /v1/verify answer begins when the
// presentation verified: its encoder writes "verified" first.
var verifiedPrefix = []byte(`{"verified":true,`)

// checkVerified counts a /v1/verify answer that did not verify as an error.
// The usual answer is recognized by its first member alone, without
// decoding the claims and receipt that follow; any other is decoded.
func checkVerified(_ int, body []byte) string {
	if bytes.HasPrefix(body, verifiedPrefix) {
		return ""
	}
	var res struct {
		Verified bool `json:"verified"`
		Errors   []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return "bad verify answer"
	}
	if res.Verified {
		return ""
	}
	code := "unknown"
	if len(res.Errors) > 0 {
		code = res.Errors[0].Code
	}
	return "not verified: " + code
}

// issueBody is a valid issuance request for a fresh agent did:key, with
// every permission selectively disclosable.
func issueBody() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(priv.Public())
	if err != nil {
		return nil, err
	}
	agent, err := did.KeyDID(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"subject": agent,
		"claims": map[string]any{
			"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
			"agent":        map[string]any{"class": "loadgen-agent", "version": "1.0.0"},
			"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
			"prohibitions": []any{"payments:initiate"},
			"autonomy":     "supervised",
		},
		"selectively_disclosable": []string{"/permissions/*"},
		"valid_for":               "24h",
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}
