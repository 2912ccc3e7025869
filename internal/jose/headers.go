package jose

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// HeadersOf gives a protected header that was already decoded into m (from
// the JSON text raw) to a KeyFunc as jws.Headers, without decoding it a
// second time. When every member is a string (alg, typ, kid and the like,
// as credentials carry) and alg, if present, is one jwx knows, the result
// reads m in place: no copy is made unless a method that walks, merges or
// changes the header is called. A header with a member jwx gives another
// type (crit, jwk, x5c), with a non-string value or an unknown alg is
// handed to jwx's own decoding once, whose error is returned.
func HeadersOf(m map[string]any, raw []byte) (jws.Headers, error) {
	var alg jwa.SignatureAlgorithm
	for k, v := range m {
		_, isString := v.(string)
		if !isString || k == jws.CriticalKey || k == jws.JWKKey || k == jws.X509CertChainKey ||
			k == jws.AlgorithmKey && alg.Accept(v) != nil {
			h := jws.NewHeaders()
			if err := json.Unmarshal(raw, h); err != nil {
				return nil, err
			}
			return h, nil
		}
	}
	return &stringHeaders{m: m}, nil
}

// stringHeaders is a header of string members read in place. The
// accessors a key lookup uses read m; the rest work on a jws.Headers copy
// made on first use, which every method reads from then on.
type stringHeaders struct {
	m    map[string]any
	once sync.Once
	full atomic.Pointer[jws.Headers] // the copy, once made
}

// copied returns the copy, making it on first use.
func (h *stringHeaders) copied() jws.Headers {
	h.once.Do(func() {
		full := jws.NewHeaders()
		for k, v := range h.m {
			_ = full.Set(k, v) // cannot fail: HeadersOf let only strings and a known alg through
		}
		h.full.Store(&full)
	})
	return *h.full.Load()
}

// copy returns the copy when one was made, else nil.
func (h *stringHeaders) copy() jws.Headers {
	if f := h.full.Load(); f != nil {
		return *f
	}
	return nil
}

// str returns member k, from the copy once it exists.
func (h *stringHeaders) str(k string) string {
	if f := h.copy(); f != nil {
		v, _ := f.Get(k)
		s, _ := v.(string)
		return s
	}
	s, _ := h.m[k].(string)
	return s
}

func (h *stringHeaders) Algorithm() jwa.SignatureAlgorithm {
	if f := h.copy(); f != nil {
		return f.Algorithm()
	}
	return jwa.SignatureAlgorithm(h.str(jws.AlgorithmKey))
}

func (h *stringHeaders) Get(k string) (any, bool) {
	if f := h.copy(); f != nil {
		return f.Get(k)
	}
	v, ok := h.m[k]
	if ok && k == jws.AlgorithmKey {
		return jwa.SignatureAlgorithm(v.(string)), true
	}
	return v, ok
}

func (h *stringHeaders) ContentType() string            { return h.str(jws.ContentTypeKey) }
func (h *stringHeaders) JWKSetURL() string              { return h.str(jws.JWKSetURLKey) }
func (h *stringHeaders) KeyID() string                  { return h.str(jws.KeyIDKey) }
func (h *stringHeaders) Type() string                   { return h.str(jws.TypeKey) }
func (h *stringHeaders) X509CertThumbprint() string     { return h.str(jws.X509CertThumbprintKey) }
func (h *stringHeaders) X509CertThumbprintS256() string { return h.str(jws.X509CertThumbprintS256Key) }
func (h *stringHeaders) X509URL() string                { return h.str(jws.X509URLKey) }

// Members a string header cannot hold unless Set adds them later.
func (h *stringHeaders) Critical() []string         { return h.copied().Critical() }
func (h *stringHeaders) JWK() jwk.Key               { return h.copied().JWK() }
func (h *stringHeaders) X509CertChain() *cert.Chain { return h.copied().X509CertChain() }

func (h *stringHeaders) Iterate(ctx context.Context) jws.Iterator { return h.copied().Iterate(ctx) }
func (h *stringHeaders) Walk(ctx context.Context, v jws.Visitor) error {
	return h.copied().Walk(ctx, v)
}
func (h *stringHeaders) AsMap(ctx context.Context) (map[string]any, error) {
	return h.copied().AsMap(ctx)
}
func (h *stringHeaders) Copy(ctx context.Context, dst jws.Headers) error {
	return h.copied().Copy(ctx, dst)
}
func (h *stringHeaders) Merge(ctx context.Context, other jws.Headers) (jws.Headers, error) {
	return h.copied().Merge(ctx, other)
}
func (h *stringHeaders) Set(k string, v any) error     { return h.copied().Set(k, v) }
func (h *stringHeaders) Remove(k string) error         { return h.copied().Remove(k) }
func (h *stringHeaders) PrivateParams() map[string]any { return h.copied().PrivateParams() }
func (h *stringHeaders) MarshalJSON() ([]byte, error)  { return json.Marshal(h.copied()) }
func (h *stringHeaders) UnmarshalJSON(b []byte) error  { return json.Unmarshal(b, h.copied()) }

var _ jws.Headers = (*stringHeaders)(nil)
