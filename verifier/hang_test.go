package verifier_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testcred"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/goleak"
)

// hangTimeout is the fetch timeout of the hanging-dependency tests.
const hangTimeout = 500 * time.Millisecond

// TestHangingDependencies: an issuer's did:web host and a status-list
// host that accept the connection and never answer. Verification fails
// closed with a code, after the fetcher's timeout and well before any
// other bound, and leaves no goroutine behind.
func TestHangingDependencies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  errcode.Code
		cause errcode.Code
		// issuer returns the issuer DID, its key, and the status list URI,
		// given the silent host.
		issuer func(t *testing.T, host string) (string, jwk.Key, string)
	}{
		{"did:web host", errcode.DIDResolutionFailed, errcode.FetchFailed, func(t *testing.T, host string) (string, jwk.Key, string) {
			k, _ := testkeys.DIDKey(t, jwa.ES256)
			id := "did:web:" + strings.ReplaceAll(host, ":", "%3A")
			_ = k.Set(jwk.KeyIDKey, id+"#key-1")
			return id, k, "https://issuer.example/statuslists/1"
		}},
		{"status-list host", errcode.StatusUnavailable, errcode.FetchFailed, func(t *testing.T, host string) (string, jwk.Key, string) {
			k, id := testkeys.DIDKey(t, jwa.ES256)
			return id, k, "http://" + host + "/statuslists/1"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			silent := testkit.SilentListener(t)
			defer silent.Stop()
			issDID, issKey, statusURI := tc.issuer(t, silent.Addr)
			pres := testcred.Presentation(t, issKey, issDID, statusURI, "aud", "n")
			p := verifier.DefaultPolicy()
			p.Trusted[issDID] = []string{testcred.VCT}
			f := did.NewFetcher(did.FetcherConfig{AllowHosts: []string{"127.0.0.1"}, Timeout: hangTimeout})
			v, err := verifier.New(p, verifier.WithFetcher(f))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res := v.Verify(context.Background(), verifier.Request{Presentation: pres, Audience: "aud", Nonce: "n"})
			took := time.Since(start)
			if res.Verified || res.Error == nil || res.Error.Code != tc.code || res.Error.Cause != tc.cause {
				t.Fatalf("got %+v, want %s caused by %s", res.Error, tc.code, tc.cause)
			}
			// The connection was made and hung: the timeout ended it, not
			// a refusal, and nothing waited much longer (a generous bound:
			// this is no speed test, a hang would take forever).
			if silent.Accepted() == 0 || took < hangTimeout || took > hangTimeout+20*time.Second {
				t.Fatalf("%d connections, answered after %s (fetch timeout %s)", silent.Accepted(), took, hangTimeout)
			}
			t.Logf("%s: %s caused by %s after %s (timeout %s)", tc.name, res.Error.Code, res.Error.Cause, took.Round(time.Millisecond), hangTimeout)
		})
	}
}
