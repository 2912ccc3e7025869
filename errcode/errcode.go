// Package errcode is the one place where agentcert's stable, client-visible
// error codes are listed.
//
// Every failure that a caller of the public packages (sdjwt, did, revocation,
// verifier, issuer) or a client of the HTTP API can observe carries one of the
// codes below. Codes are snake_case, never renamed once released, and
// documented in docs/errors.md (a test keeps the two in agreement).
//
// Use New or Wrap to build an *Error and CodeOf to classify any error:
//
//	if errcode.CodeOf(err) == errcode.Revoked { ... }
package errcode

import (
	"errors"
	"fmt"
)

// Code is a stable machine-readable failure class.
type Code string

// Codes for malformed input and limits.
const (
	Internal       Code = "internal_error"  // a fault on our side; never a client's mistake
	InvalidInput   Code = "invalid_input"   // a request or argument that does not parse or validate
	TooLarge       Code = "too_large"       // a size, count or depth limit was exceeded
	Malformed      Code = "malformed"       // an SD-JWT, JWT or disclosure that does not parse
	NotFound       Code = "not_found"       // the named resource does not exist
	Conflict       Code = "conflict"        // the request conflicts with the resource's state
	Unauthorized   Code = "unauthorized"    // missing, unknown or revoked bearer token
	Forbidden      Code = "forbidden"       // the token's role may not do this
	RateLimited    Code = "rate_limited"    // too many requests
	Overloaded     Code = "overloaded"      // the service is at capacity for this kind of request; retry after Retry-After
	SchemaInvalid  Code = "schema_invalid"  // claims do not validate against the vct's JSON Schema
	NotDisclosable Code = "not_disclosable" // a claim marked "never" selectively disclosable was asked to be
	// StorageUnwritable: the store refused a write because its storage is
	// full or read-only; nothing was written, reads keep working, and the
	// same request succeeds once the storage takes writes again.
	StorageUnwritable Code = "storage_unwritable"
)

// Codes for the issuer-signed JWT.
const (
	BadSignature   Code = "bad_signature"   // the signature does not verify with the issuer's key
	UnsupportedAlg Code = "unsupported_alg" // alg not on the allow-list (none and HMAC are never on it)
	WrongTyp       Code = "wrong_typ"       // the JWT typ header is not one the caller accepts
	UnknownCrit    Code = "unknown_crit"    // a crit header names an extension we do not understand
	Expired        Code = "expired"         // exp is in the past (beyond leeway)
	NotYetValid    Code = "not_yet_valid"   // nbf or iat is in the future (beyond leeway)
	MissingClaim   Code = "missing_claim"   // a required claim (iss, vct, cnf, ...) is absent or has the wrong type
)

// Codes for disclosures (RFC 9901 section 7.1).
const (
	DisclosureMalformed     Code = "disclosure_malformed"      // not base64url, not a JSON array of 2 or 3, bad salt or name
	DisclosureNotReferenced Code = "disclosure_not_referenced" // no _sd or "..." digest points at it
	DuplicateDigest         Code = "duplicate_digest"          // a digest appears more than once
	DuplicateDisclosure     Code = "duplicate_disclosure"      // the same disclosure was sent twice
	ReservedClaimName       Code = "reserved_claim_name"       // a disclosure names _sd or ...
	ClaimExists             Code = "claim_exists"              // the disclosed name already exists in clear at that level
	DisclosureWrongPosition Code = "disclosure_wrong_position" // object disclosure used in an array, or the reverse
	DigestMalformed         Code = "digest_malformed"          // an _sd entry or "..." value that is not a string
	UnsupportedSDAlg        Code = "unsupported_sd_alg"        // _sd_alg other than sha-256
)

// Codes for key binding (RFC 9901 section 4.3).
const (
	KBMissing        Code = "kb_missing"          // key binding is required and no KB-JWT was presented
	KBMalformed      Code = "kb_malformed"        // the KB-JWT does not parse
	KBBadSignature   Code = "kb_bad_signature"    // the KB-JWT does not verify with cnf.jwk
	KBNoHolderKey    Code = "kb_no_holder_key"    // the credential has no usable cnf.jwk
	KBWrongTyp       Code = "kb_wrong_typ"        // typ is not kb+jwt
	KBWrongAudience  Code = "kb_wrong_audience"   // aud is not the verifier's audience
	KBWrongNonce     Code = "kb_wrong_nonce"      // nonce differs from the expected one
	KBStale          Code = "kb_stale"            // iat outside the accepted window
	KBSDHashMismatch Code = "kb_sd_hash_mismatch" // sd_hash does not cover the presentation
)

// Codes for delegation chains (Delegate SD-JWT, draft-gco-oauth-delegate-sd-jwt)
// and agentcert's narrowing rules on top of them.
const (
	DelegationMalformed      Code = "delegation_malformed"       // a dSD-JWT that does not split into an SD-JWT and KB-SD-JWTs, or a hop that does not parse
	DelegationWrongTyp       Code = "delegation_wrong_typ"       // a hop's typ is not kb+sd-jwt / kb+sd-jwt+kb where the draft requires it
	DelegationBadSignature   Code = "delegation_bad_signature"   // a hop does not verify with the cnf key of the component before it
	DelegationBadLink        Code = "delegation_bad_link"        // a hop's sd_hash / issuer_jwt_hash is missing or does not match the component before it
	DelegationPayloadCount   Code = "delegation_payload_count"   // a hop does not disclose exactly one delegate_payload element
	DelegationDepth          Code = "delegation_depth"           // more hops than the limit or the policy's max_delegation_depth
	DelegationWidened        Code = "delegation_widened"         // a hop grants more than its parent: a permission not covered, a looser constraint, a dropped prohibition, or a certification whose prohibitions or task cannot be read
	DelegationOutlivesParent Code = "delegation_outlives_parent" // a hop expires after its parent
	DelegationLifetime       Code = "delegation_lifetime"        // a hop is valid for longer than the policy's maximum hop lifetime
	DelegationKeyMismatch    Code = "delegation_key_mismatch"    // a hop's cnf.jwk is not the key of its did:key / did:jwk sub
	UnknownConstraint        Code = "unknown_constraint"         // a permission constraint agentcert does not know, in a delegation chain
)

// Codes for identifiers and fetching.
const (
	DIDInvalid           Code = "did_invalid"            // not a syntactically valid DID or DID URL
	DIDMethodUnsupported Code = "did_method_unsupported" // a DID method we do not resolve
	DIDResolutionFailed  Code = "did_resolution_failed"  // the DID document could not be obtained or is invalid
	KeyNotFound          Code = "key_not_found"          // kid is not a verification method under assertionMethod
	FetchRefused         Code = "fetch_refused"          // the outbound guard refused the address or scheme
	FetchFailed          Code = "fetch_failed"           // the fetch failed (network, status, size, timeout)
)

// Codes for status lists and revocation.
const (
	Revoked           Code = "revoked"            // the credential's status is invalid (revoked)
	Suspended         Code = "suspended"          // the credential's status is suspended
	StatusUnavailable Code = "status_unavailable" // the status list could not be fetched or validated
	StatusInvalid     Code = "status_invalid"     // a status list or status reference is malformed or out of range
)

// Codes for verifier policy and authorization.
const (
	UntrustedIssuer    Code = "untrusted_issuer"     // iss is not trusted for this vct
	ClaimNotDisclosed  Code = "claim_not_disclosed"  // a claim the policy requires was not disclosed
	SubjectKeyMismatch Code = "subject_key_mismatch" // cnf.jwk is not the subject DID's key (or not one its DID document lists)
	NonceInvalid       Code = "nonce_invalid"        // a nonce not issued by this verifier, or tampered
	NonceExpired       Code = "nonce_expired"        // a nonce past its expiry, or minted before this verifier restarted
	NonceReplayed      Code = "nonce_replayed"       // a single-use nonce seen before
	// NonceStoreUnavailable: the set of spent nonces could not be consulted,
	// so a single-use nonce is refused rather than risk a replay.
	NonceStoreUnavailable Code = "nonce_store_unavailable"
	ActionNotPermitted    Code = "action_not_permitted" // no disclosed permission matches the action
	ActionProhibited      Code = "action_prohibited"    // a prohibition matches the action
	ConstraintViolated    Code = "constraint_violated"  // a matching permission's constraints do not hold
)

// Codes for request signatures (RFC 9421, RFC 9530) on the agent channel.
const (
	SigMalformed       Code = "sig_malformed"       // Signature, Signature-Input, Signature-Agent or Content-Digest does not parse or breaks the profile
	SigInvalid         Code = "sig_invalid"         // the request signature does not verify with the key its keyid names
	SigExpired         Code = "sig_expired"         // the signature's expires has passed, or created is older than the accepted window
	SigNotYetValid     Code = "sig_not_yet_valid"   // the signature's created is in the future (beyond leeway)
	SigCoverage        Code = "sig_coverage"        // a component the profile requires (@method, @authority, @path, @query, content-digest) is not covered
	SigWrongAuthority  Code = "sig_wrong_authority" // the signed request names another host than this service's (@authority)
	SigKeyMismatch     Code = "sig_key_mismatch"    // keyid is not the JWK thumbprint of the presented credential's cnf key
	DigestMismatch     Code = "digest_mismatch"     // Content-Digest does not match the request body
	CredentialRequired Code = "credential_required" // the signing key has no verified credential in session; present one
)

// Codes for OpenID4VCI issuance. Each is served with the OAuth error of the
// specification (invalid_grant, invalid_proof, ...) beside it; see package
// oid4vci for the mapping.
const (
	InvalidRequest                 Code = "invalid_request"                  // a token or credential request that is missing a parameter or malformed
	UnsupportedGrantType           Code = "unsupported_grant_type"           // a grant type other than the pre-authorized code
	InvalidGrant                   Code = "invalid_grant"                    // a pre-authorized code that is unknown, or of an offer whose issuer token is revoked
	CodeUsed                       Code = "pre_authorized_code_used"         // a pre-authorized code already exchanged for an access token
	CodeExpired                    Code = "pre_authorized_code_expired"      // a pre-authorized code past its offer's expiry
	TxCodeRequired                 Code = "tx_code_required"                 // the offer asks for a transaction code and none was given
	TxCodeWrong                    Code = "tx_code_wrong"                    // the transaction code does not match the offer's
	TxCodeAttemptsExceeded         Code = "tx_code_attempts_exceeded"        // too many wrong transaction codes: the offer is locked
	InvalidToken                   Code = "invalid_token"                    // an access token that is unknown, expired or already used, or whose offer's issuer token is revoked
	InvalidCredentialRequest       Code = "invalid_credential_request"       // a credential request that does not parse or asks for too many credentials
	UnknownCredentialConfiguration Code = "unknown_credential_configuration" // a credential_configuration_id the issuer does not offer
	InvalidProof                   Code = "invalid_proof"                    // a key proof that is missing or does not parse
	ProofWrongTyp                  Code = "proof_wrong_typ"                  // the proof's typ is not openid4vci-proof+jwt
	ProofWrongAudience             Code = "proof_wrong_audience"             // the proof's aud is not the credential issuer
	ProofBadSignature              Code = "proof_bad_signature"              // the proof does not verify with the key it names
	ProofStale                     Code = "proof_stale"                      // the proof's iat is missing or outside the accepted window
	ProofKeyInvalid                Code = "proof_key_invalid"                // the proof names no usable public key, several, or one already used in the request
	InvalidNonce                   Code = "invalid_nonce"                    // the proof carries no c_nonce
)

// Codes for verification receipts and incident reports.
const (
	ReceiptMalformed      Code = "receipt_malformed"       // a receipt that does not parse, has the wrong typ or alg, or lacks a required claim
	ReceiptBadSignature   Code = "receipt_bad_signature"   // the receipt's signature does not verify with its verifier's key
	ReceiptKeyUnavailable Code = "receipt_key_unavailable" // the verifier's key named by the receipt's kid could not be obtained
	ReceiptForeign        Code = "receipt_foreign"         // the receipt names no credential of this issuer
)

// Codes for human approvals of high-risk actions.
const (
	ApprovalRequired       Code = "approval_required"        // the action needs a person's approval and none was presented
	ApprovalMalformed      Code = "approval_malformed"       // an approval that does not parse, has the wrong typ or a crit header, or lacks a required claim
	ApprovalBadSignature   Code = "approval_bad_signature"   // the approval's signature does not verify with the approver key it names
	ApprovalUnauthorized   Code = "approval_unauthorized"    // the approval's key is not an approver key of the principal, or it names another principal or agent
	ApprovalDigestMismatch Code = "approval_digest_mismatch" // the approval was given for a different request object
	ApprovalWrongAudience  Code = "approval_wrong_audience"  // the approval's aud is not this verifier
	ApprovalExpired        Code = "approval_expired"         // the approval has expired or its lifetime is out of bounds
	ApprovalReplayed       Code = "approval_replayed"        // the approval's nonce was already used, or (over OpenID4VP) it was given for another presentation request
)

// Codes for OpenID4VP presentation requests and responses.
const (
	DCQLInvalid             Code = "dcql_invalid"                  // a DCQL query that does not parse or breaks its rules
	QueryUnsatisfied        Code = "query_unsatisfied"             // the credentials (or the presentations) do not satisfy the DCQL query
	OverDisclosure          Code = "over_disclosure"               // a presentation discloses a claim the query did not ask for
	TransactionDataMismatch Code = "transaction_data_mismatch"     // transaction_data_hashes missing from the KB-JWT, or not those of the request's transaction data
	RequestExpired          Code = "presentation_request_expired"  // the presentation request has expired
	RequestAnswered         Code = "presentation_request_answered" // the presentation request was already answered
	StateMismatch           Code = "state_mismatch"                // the response's state is not the request's
	RequestObjectInvalid    Code = "request_object_invalid"        // an authorization request (object) that does not parse, verify or match its client_id
	PresentationDeclined    Code = "presentation_declined"         // the wallet answered with an error (access_denied, ...)
)

// Error is a failure with a stable Code. Message is safe to show to a client;
// Err, if set, is the underlying cause and is never rendered to clients.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, errcode.New(errcode.Expired, "")) classifies by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// New returns an *Error with the given code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message around cause.
func Wrap(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// Prefix puts context ("delegation hop 2") in front of err's message and
// keeps its code and cause: for the first *Error in err's chain, a copy
// whose Message is "context: Message"; any other error is wrapped as
// Internal.
func Prefix(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	ctx := fmt.Sprintf(format, args...)
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: ctx + ": " + e.Message, Err: e.Err}
	}
	return Wrap(Internal, err, "%s", ctx)
}

// CodeOf returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// All lists every code, in the order documented in docs/errors.md.
func All() []Code {
	return []Code{
		Internal, InvalidInput, TooLarge, Malformed, NotFound, Conflict, Unauthorized, Forbidden, RateLimited, Overloaded, SchemaInvalid, NotDisclosable, StorageUnwritable,
		BadSignature, UnsupportedAlg, WrongTyp, UnknownCrit, Expired, NotYetValid, MissingClaim,
		DisclosureMalformed, DisclosureNotReferenced, DuplicateDigest, DuplicateDisclosure, ReservedClaimName, ClaimExists, DisclosureWrongPosition, DigestMalformed, UnsupportedSDAlg,
		KBMissing, KBMalformed, KBBadSignature, KBNoHolderKey, KBWrongTyp, KBWrongAudience, KBWrongNonce, KBStale, KBSDHashMismatch,
		DelegationMalformed, DelegationWrongTyp, DelegationBadSignature, DelegationBadLink, DelegationPayloadCount, DelegationDepth,
		DelegationWidened, DelegationOutlivesParent, DelegationLifetime, DelegationKeyMismatch, UnknownConstraint,
		DIDInvalid, DIDMethodUnsupported, DIDResolutionFailed, KeyNotFound, FetchRefused, FetchFailed,
		Revoked, Suspended, StatusUnavailable, StatusInvalid,
		UntrustedIssuer, ClaimNotDisclosed, SubjectKeyMismatch, NonceInvalid, NonceExpired, NonceReplayed, NonceStoreUnavailable, ActionNotPermitted, ActionProhibited, ConstraintViolated,
		SigMalformed, SigInvalid, SigExpired, SigNotYetValid, SigCoverage, SigWrongAuthority, SigKeyMismatch, DigestMismatch, CredentialRequired,
		InvalidRequest, UnsupportedGrantType, InvalidGrant, CodeUsed, CodeExpired, TxCodeRequired, TxCodeWrong, TxCodeAttemptsExceeded,
		InvalidToken, InvalidCredentialRequest, UnknownCredentialConfiguration,
		InvalidProof, ProofWrongTyp, ProofWrongAudience, ProofBadSignature, ProofStale, ProofKeyInvalid, InvalidNonce,
		ReceiptMalformed, ReceiptBadSignature, ReceiptKeyUnavailable, ReceiptForeign,
		ApprovalRequired, ApprovalMalformed, ApprovalBadSignature, ApprovalUnauthorized, ApprovalDigestMismatch, ApprovalWrongAudience, ApprovalExpired, ApprovalReplayed,
		DCQLInvalid, QueryUnsatisfied, OverDisclosure, TransactionDataMismatch, RequestExpired, RequestAnswered, StateMismatch, RequestObjectInvalid, PresentationDeclined,
	}
}
