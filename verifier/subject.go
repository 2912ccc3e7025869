package verifier

import (
	"strings"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/sdjwt"
)

// checkSubjectKey ties the subject to the holder key: when sub is a did:key
// or did:jwk, the DID is the key, so cnf.jwk must be that key. Otherwise a
// credential could name a victim's DID as its subject while binding a key
// its holder controls. (A did:web subject's key is checked by the issuer,
// against the subject's DID document, when it issues.)
func checkSubjectKey(claims map[string]any) error {
	sub, _ := claims["sub"].(string)
	if !strings.HasPrefix(sub, "did:key:") && !strings.HasPrefix(sub, "did:jwk:") {
		return nil
	}
	if cnf, _ := claims["cnf"].(map[string]any); cnf == nil || cnf["jwk"] == nil {
		return nil // no holder key: nothing is bound, and key binding could not have verified
	}
	holder, err := sdjwt.HolderKey(claims)
	if err != nil {
		return errcode.Wrap(errcode.SubjectKeyMismatch, err, "cnf.jwk is not a usable key, so it cannot be the subject's")
	}
	subject, err := did.PublicKey(sub)
	if err != nil {
		return errcode.Wrap(errcode.SubjectKeyMismatch, err, "subject %s names no usable key", sub)
	}
	if !keyutil.SameKey(holder, subject) {
		return errcode.New(errcode.SubjectKeyMismatch, "cnf.jwk is not the key of subject %s", sub)
	}
	return nil
}
