// Package agentclient is the agent's side of the agentcert channel: an
// http.RoundTripper that signs every request with HTTP Message Signatures
// (RFC 9421) under the agent's key — the key its certification names in
// cnf.jwk — and presents the certification in the Agent-Credential header
// on the first request to a counterparty and whenever the counterparty
// asks for it again.
//
//	t, err := agentclient.New(agentclient.Options{Credential: sdJWT, Key: agentKey})
//	client := &http.Client{Transport: t}
//	resp, err := client.Get("https://invoices.example/invoices")
//
// Each signature covers @method, @authority, @path and @query, plus
// content-digest (RFC 9530, sha-256) when the request has a body, and the
// signature's Signature-Agent member when Options.SignatureAgent is set;
// its parameters are created, expires (one minute later by default), a
// fresh nonce, alg, keyid (the RFC 7638 thumbprint of the key) and tag.
// Keys are Ed25519 (alg ed25519) or P-256 (ecdsa-p256-sha256).
package agentclient

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Label is the signature label the transport uses.
const Label = "sig1"

// Options configures a Transport.
type Options struct {
	// Credential is the agent's SD-JWT VC as issued (it ends with "~"), or
	// a delegation chain handed to it (sdjwt.Delegate).
	Credential string
	// Key is the agent's private key; its public part is the credential's
	// cnf.jwk (for a chain, the last hop's).
	Key jwk.Key
	// Disclose lists JSON Pointers of the claims to disclose in each
	// presentation; nil discloses everything.
	Disclose []string
	// Audience returns the KB-JWT aud for a counterparty; nil uses the
	// request's origin (scheme://host[:port]).
	Audience func(r *http.Request) string
	// NonceURL returns where to GET a nonce ({"nonce": ...}) before the
	// first presentation to a counterparty; nil, or "", sends the first
	// request signed and presents when the counterparty answers
	// credential_required with a nonce.
	NonceURL func(r *http.Request) string
	// Tag is the signature's tag; default "web-bot-auth", which agentcert
	// verifiers and Web Bot Auth verifiers both accept.
	Tag string
	// SignatureAgent, when set, is sent as the Signature-Agent member for
	// the signature (e.g. the issuer's origin, which serves the signatures
	// directory) and covered by it.
	SignatureAgent string
	// Lifetime is how long each signature is valid; default one minute.
	Lifetime time.Duration
	// MaxBody bounds the request body the transport buffers; default 10 MiB.
	MaxBody int64
	// Base carries the requests; default http.DefaultTransport.
	Base http.RoundTripper
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Transport signs and sends requests. It is safe for concurrent use.
type Transport struct {
	o     Options
	kid   string
	alg   string
	mu    sync.Mutex
	known map[string]bool // counterparties (by audience) that have a session
}

// New returns a transport for o.
func New(o Options) (*Transport, error) {
	if o.Credential == "" || o.Key == nil {
		return nil, errors.New("agentclient: Credential and Key are required")
	}
	if _, err := o.Key.PublicKey(); err != nil {
		return nil, fmt.Errorf("agentclient: key: %w", err)
	}
	if isPublic(o.Key) {
		return nil, errors.New("agentclient: Key must be a private key")
	}
	alg, err := httpsig.KeyAlg(o.Key)
	if err != nil {
		return nil, err
	}
	kid, err := httpsig.Thumbprint(o.Key)
	if err != nil {
		return nil, err
	}
	if o.Tag == "" {
		o.Tag = verifier.TagWebBotAuth
	}
	if o.Lifetime <= 0 {
		o.Lifetime = time.Minute
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 10 << 20
	}
	if o.Base == nil {
		o.Base = http.DefaultTransport
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Disclose == nil {
		o.Disclose = []string{""}
	}
	return &Transport{o: o, kid: kid, alg: alg, known: map[string]bool{}}, nil
}

func isPublic(k jwk.Key) bool {
	_, hasD := k.Get("d")
	return !hasD
}

// KeyID is the keyid the transport signs with: the thumbprint of the key.
func (t *Transport) KeyID() string { return t.kid }

func (t *Transport) audience(r *http.Request) string {
	if t.o.Audience != nil {
		return t.o.Audience(r)
	}
	return r.URL.Scheme + "://" + r.URL.Host
}

// RoundTrip signs req and sends it; it presents the credential first when
// the counterparty has no session for this agent, and again (once per
// request) when the counterparty answers credential_required.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := t.readBody(req)
	if err != nil {
		return nil, err
	}
	aud := t.audience(req)
	t.mu.Lock()
	known := t.known[aud]
	t.mu.Unlock()
	pres := ""
	if !known && t.o.NonceURL != nil {
		if u := t.o.NonceURL(req); u != "" {
			nonce, err := t.fetchNonce(req, u)
			if err != nil {
				return nil, err
			}
			if pres, err = t.present(aud, nonce); err != nil {
				return nil, err
			}
		}
	}
	resp, err := t.send(req, body, pres)
	if err != nil {
		return nil, err
	}
	if nonce := resp.Header.Get(verifier.HeaderCredentialNonce); resp.StatusCode == http.StatusUnauthorized && nonce != "" && pres == "" {
		drain(resp)
		if pres, err = t.present(aud, nonce); err != nil {
			return nil, err
		}
		if resp, err = t.send(req, body, pres); err != nil {
			return nil, err
		}
	}
	t.mu.Lock()
	t.known[aud] = resp.StatusCode != http.StatusUnauthorized
	t.mu.Unlock()
	return resp, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

func (t *Transport) readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, t.o.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("agentclient: read body: %w", err)
	}
	if int64(len(b)) > t.o.MaxBody {
		return nil, fmt.Errorf("agentclient: body larger than %d bytes", t.o.MaxBody)
	}
	return b, nil
}

func (t *Transport) present(aud, nonce string) (string, error) {
	kb := &sdjwt.KBOptions{Key: t.o.Key, Audience: aud, Nonce: nonce, IssuedAt: t.o.Now()}
	var p string
	var err error
	if sdjwt.IsChain(t.o.Credential) {
		// A delegation chain: its disclosures were chosen when it was
		// delegated; the last delegate's key adds the KB-JWT.
		p, err = sdjwt.PresentChain(t.o.Credential, nil, kb)
	} else {
		p, err = sdjwt.Present(t.o.Credential, t.o.Disclose, kb)
	}
	if err != nil {
		return "", fmt.Errorf("agentclient: present: %w", err)
	}
	return p, nil
}

func (t *Transport) fetchNonce(req *http.Request, u string) (string, error) {
	nr, err := http.NewRequestWithContext(req.Context(), http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("agentclient: nonce URL: %w", err)
	}
	resp, err := t.o.Base.RoundTrip(nr)
	if err != nil {
		return "", fmt.Errorf("agentclient: get nonce: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("agentclient: get nonce: status %d", resp.StatusCode)
	}
	var v struct {
		Nonce string `json:"nonce"`
	}
	if err := decodeJSON(resp.Body, &v); err != nil || v.Nonce == "" {
		return "", fmt.Errorf("agentclient: the nonce answer has no nonce (%v)", err)
	}
	return v.Nonce, nil
}

// send signs a copy of req (with body and, when set, the presentation)
// and sends it.
func (t *Transport) send(req *http.Request, body []byte, pres string) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	for _, h := range []string{httpsig.HeaderSignature, httpsig.HeaderSignatureInput, httpsig.HeaderContentDigest, verifier.HeaderAgentCredential, httpsig.HeaderSignatureAgent} {
		out.Header.Del(h)
	}
	names := append([]string(nil), verifier.ChannelComponents...)
	if len(body) > 0 {
		cd, err := httpsig.ContentDigest(body, httpsig.DigestSHA256)
		if err != nil {
			return nil, err
		}
		out.Header.Set(httpsig.HeaderContentDigest, cd)
		names = append(names, "content-digest")
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		out.Body, out.ContentLength, out.GetBody = nil, 0, nil
	}
	components := httpsig.Components(names...)
	if t.o.SignatureAgent != "" {
		sa := Label + "=" + quote(t.o.SignatureAgent)
		out.Header.Set(httpsig.HeaderSignatureAgent, sa)
		c := httpsig.Components("signature-agent")[0]
		c.Params.Add("key", Label)
		components = append(components, c)
	}
	if pres != "" {
		out.Header.Set(verifier.HeaderAgentCredential, pres)
	}
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	now := t.o.Now()
	in, sig, err := httpsig.Sign(httpsig.Outgoing(out), Label, components, httpsig.Params{
		Created: now, Expires: now.Add(t.o.Lifetime), Nonce: nonce, Alg: t.alg, KeyID: t.kid, Tag: t.o.Tag,
	}, t.o.Key)
	if err != nil {
		return nil, fmt.Errorf("agentclient: sign: %w", err)
	}
	out.Header.Set(httpsig.HeaderSignatureInput, in)
	out.Header.Set(httpsig.HeaderSignature, sig)
	return t.o.Base.RoundTrip(out)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func randomNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("agentclient: nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ProblemCode returns the code member of a problem+json response body, or
// "" when there is none.
func ProblemCode(body []byte) errcode.Code {
	var p struct {
		Code errcode.Code `json:"code"`
	}
	_ = decodeJSON(bytes.NewReader(body), &p)
	return p.Code
}

func decodeJSON(r io.Reader, v any) error {
	return json.NewDecoder(io.LimitReader(r, 64<<10)).Decode(v)
}
