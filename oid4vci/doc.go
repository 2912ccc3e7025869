// Package oid4vci is agentcert's OpenID for Verifiable Credential Issuance
// 1.0 core: the wire types of the protocol, credential offers and their
// openid-credential-offer:// links, key proofs (the jwt proof type), and the
// issuer side of the pre-authorized code flow. It has no HTTP router and no
// SQL: server/ translates HTTP to a Service, and the store keeps the state
// behind the State interface.
//
// The flow, for an agent provisioned by its operator:
//
//	operator  POST /v1/offers (issuer token, prepared claims)  -> Service.CreateOffer
//	agent     offer link -> credential_offer (by value or credential_offer_uri)
//	agent     token endpoint, pre-authorized code (+ tx_code)  -> Service.Token
//	agent     nonce endpoint                                   -> Service.Nonce
//	agent     credential endpoint, proofs.jwt (one per key)    -> Service.Credential
//
// Every credential is bound (cnf.jwk) to the key a proof demonstrated, and its
// subject is that key's DID. Pre-authorized codes are single use and expire
// with their offer, wrong transaction codes are counted and lock the offer,
// access tokens allow one credential request, and each c_nonce is spent once:
// all of it is decided here and made durable by the State atomically.
//
// On the agent's side, SignProof makes a key proof and ParseOfferLink reads
// an offer link; agentcert's CLI (agentcert wallet receive) runs the client
// flow with them.
//
// Errors carry an errcode code; TokenError and CredentialError name the
// OAuth error of the specification served beside it.
package oid4vci
