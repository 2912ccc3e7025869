package oid4vci

import "github.com/agentcert/agentcert/errcode"

// TokenError names the OAuth error (RFC 6749 section 5.2, OpenID4VCI section
// 6.3) a token endpoint failure with code c is served as; "server_error"
// for a fault of ours.
func TokenError(c errcode.Code) string {
	switch c {
	case errcode.UnsupportedGrantType:
		return "unsupported_grant_type"
	case errcode.InvalidGrant, errcode.CodeUsed, errcode.CodeExpired, errcode.TxCodeWrong, errcode.TxCodeAttemptsExceeded:
		return "invalid_grant"
	case errcode.InvalidRequest, errcode.TxCodeRequired, errcode.InvalidInput, errcode.TooLarge:
		return "invalid_request"
	}
	return "server_error"
}

// CredentialError names the OAuth error (OpenID4VCI section 8.3.1, RFC 6750
// for the access token) a credential endpoint failure with code c is served
// as; "server_error" for a fault of ours.
func CredentialError(c errcode.Code) string {
	switch c {
	case errcode.InvalidToken, errcode.Unauthorized:
		return "invalid_token"
	case errcode.UnknownCredentialConfiguration:
		return "unknown_credential_configuration"
	case errcode.InvalidNonce, errcode.NonceInvalid, errcode.NonceExpired, errcode.NonceReplayed:
		return "invalid_nonce"
	case errcode.InvalidProof, errcode.ProofWrongTyp, errcode.ProofWrongAudience, errcode.ProofBadSignature,
		errcode.ProofStale, errcode.ProofKeyInvalid, errcode.UnsupportedAlg, errcode.UnknownCrit:
		return "invalid_proof"
	case errcode.InvalidCredentialRequest, errcode.InvalidRequest, errcode.InvalidInput, errcode.TooLarge, errcode.SchemaInvalid:
		return "invalid_credential_request"
	}
	return "server_error"
}
