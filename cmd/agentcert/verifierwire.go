package main

import (
	"encoding/base64"
	"fmt"

	"github.com/agentcert/agentcert/internal/noncestore/redisnonce"
	"github.com/agentcert/agentcert/internal/redisvp"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// policyFrom turns the verifier config into a policy; localIssuer, when not
// empty and trust_local_issuer is set, is trusted for the agent
// certification vct.
func policyFrom(cfg config.Config, localIssuer string) (verifier.Policy, error) {
	p := verifier.DefaultPolicy()
	vc := cfg.Verifier
	p.Algorithms = nil
	for _, a := range vc.Algorithms {
		p.Algorithms = append(p.Algorithms, jwa.SignatureAlgorithm(a))
	}
	p.RequireKB, p.MaxKBAge, p.Leeway = vc.RequireKB, vc.MaxKBAge, vc.Leeway
	p.RequiredClaims = vc.RequiredClaims
	p.CheckStatus, p.MaxStatusAge = vc.CheckStatus, vc.MaxStatusAge
	p.RequireNonce = vc.RequireNonce
	p.MaxDelegationDepth, p.MaxDelegationLifetime = vc.MaxDelegationDepth, vc.MaxDelegationLifetime
	p.ApproveIrreversible, p.IrreversibleActions = vc.ApproveIrreversible, vc.IrreversibleActions
	for _, t := range vc.Trusted {
		p.Trusted[t.Issuer] = append(p.Trusted[t.Issuer], t.VCTs...)
	}
	if localIssuer != "" && vc.TrustLocalIssuer {
		p.Trusted[localIssuer] = append(p.Trusted[localIssuer], config.AgentCertificationVCT)
	}
	return p, nil
}

// newNonces builds the nonce service from config.
func newNonces(cfg config.Config) (*verifier.Nonces, error) {
	var secrets [][]byte
	for i, s := range cfg.Verifier.NonceSecrets {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("config: verifier.nonce_secrets[%d]: not base64", i)
		}
		secrets = append(secrets, b)
	}
	var opts []verifier.NonceOption
	if redisnonce.IsURL(cfg.Verifier.NonceStore) {
		// Replicas sharing one Redis (and the nonce secrets) refuse a nonce
		// spent on any of them; an unreachable Redis fails the check
		// closed (nonce_store_unavailable).
		rs, err := redisnonce.New(cfg.Verifier.NonceStore)
		if err != nil {
			return nil, fmt.Errorf("config: verifier.nonce_store: %w", err)
		}
		opts = append(opts, verifier.WithSpentStore(rs))
	}
	n, err := verifier.NewNonces(secrets, cfg.Verifier.NonceTTL, nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("config: verifier.nonce_secrets: %w", err)
	}
	return n, nil
}

// newPresentationStore is where OpenID4VP presentation requests are kept:
// in the verifier.nonce_store Redis when there is one, so that replicas
// sharing it answer each other's requests; else in this process's memory
// (nil).
func newPresentationStore(cfg config.Config) (oid4vp.Store, error) {
	if !redisnonce.IsURL(cfg.Verifier.NonceStore) {
		return nil, nil
	}
	st, err := redisvp.New(cfg.Verifier.NonceStore)
	if err != nil {
		return nil, fmt.Errorf("config: verifier.nonce_store: %w", err)
	}
	return st, nil
}

// The Redis store is the verifier's spent-nonce set.
var _ verifier.SpentStore = (*redisnonce.Store)(nil)

// newVerifier wires a verifier from config: the configured fetcher and
// caches, then opts.
func newVerifier(cfg config.Config, p verifier.Policy, opts ...verifier.Option) (*verifier.Verifier, error) {
	base := []verifier.Option{
		verifier.WithFetcher(newFetcher(cfg)),
		verifier.WithCache(cfg.Verifier.CacheTTL, cfg.Verifier.CacheEntries),
	}
	return verifier.New(p, append(base, opts...)...)
}
