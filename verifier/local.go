package verifier

import (
	"context"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/revocation"
)

// LocalIssuer is the issuer that runs in the same process as the verifier
// (agentcert serve with both surfaces). For credentials of DID its keys
// come from Document and its status lists from StatusList, directly:
//
//   - the service verifies its own credentials even where its public host
//     does not resolve (behind a proxy, in a container, before DNS exists);
//   - a status change is seen by the next verification, not after the
//     status list cache's max_status_age; remote issuers keep theirs;
//   - a rotated or retired key is seen at once.
//
// Everything read is still verified (the list's signature, issuer,
// subject and times), exactly as a fetched one would be.
type LocalIssuer struct {
	DID string
	// Document returns the issuer's current DID document; nil leaves key
	// lookups to the resolver (a did:key issuer needs none).
	Document func(ctx context.Context) (*did.Document, error)
	// StatusList returns the Status List Token currently served at uri; ok
	// is false when uri is not one of the issuer's lists.
	StatusList func(ctx context.Context, uri string) (token string, ok bool, err error)
}

func (l *LocalIssuer) resolve(ctx context.Context, id string) (*did.Document, error) {
	if id != l.DID {
		return nil, errcode.New(errcode.DIDResolutionFailed, "%s is not the local issuer", id)
	}
	return l.Document(ctx)
}

// localList is a verified local Status List Token, reused while the issuer
// serves the very same token.
type localList struct {
	raw string
	tok *revocation.Token
}

// localStatus answers a status reference of the local issuer; local is
// false when the reference is not one (the caller fetches it then).
func (v *Verifier) localStatus(ctx context.Context, uri string, idx int, issuer string) (s revocation.Status, local bool, err error) {
	l := v.s.local
	if l == nil || l.StatusList == nil || issuer != l.DID {
		return revocation.Status{}, false, nil
	}
	raw, ok, err := l.StatusList(ctx, uri)
	if !ok {
		return revocation.Status{}, false, nil
	}
	if err != nil {
		return revocation.Status{}, true, errcode.Wrap(errcode.StatusUnavailable, err, "status list %s could not be read", uri)
	}
	now := v.s.now()
	var tok *revocation.Token
	if e, hit := v.localLists.Get(uri); hit && e.raw == raw && (e.tok.Expires.IsZero() || now.Before(e.tok.Expires.Add(v.p.Leeway))) {
		tok = e.tok
	} else {
		tok, err = revocation.VerifyToken(ctx, raw, revocation.VerifyTokenOptions{
			Key: v.issuerKey, ExpectedIssuer: issuer, ExpectedSubject: uri,
			Algorithms: v.p.Algorithms, Now: v.s.now, Leeway: v.p.Leeway,
		})
		if err != nil {
			return revocation.Status{}, true, errcode.Wrap(errcode.StatusUnavailable, err, "status list %s could not be validated", uri)
		}
		exp := now.Add(time.Hour)
		if !tok.Expires.IsZero() && tok.Expires.Before(exp) {
			exp = tok.Expires
		}
		v.localLists.Put(uri, &localList{raw: raw, tok: tok}, exp)
	}
	value, err := tok.List.Get(idx)
	if err != nil {
		return revocation.Status{}, true, err
	}
	return revocation.Status{Value: value, AsOf: tok.IssuedAt, FetchedAt: now, UsableUntil: tok.UsableUntil(now)}, true, nil
}
