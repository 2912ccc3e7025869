package issuer

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const cryptoSHA256 = crypto.SHA256

func didKeyOf(pub jwk.Key) (string, error) { return did.KeyDID(pub) }

// Store is the part of the store issuance and status changes need.
type Store interface {
	CreateStatusList(ctx context.Context, l records.StatusList, a *records.AuditEntry) error
	StatusLists(ctx context.Context) ([]records.StatusList, error)
	UsedIndexes(ctx context.Context, listID string) ([]int, error)
	InsertCredential(ctx context.Context, c records.Credential, idem *records.Idempotency, a *records.AuditEntry) error
	Credential(ctx context.Context, id string) (records.Credential, error)
	Idempotent(ctx context.Context, tokenID, key string) (records.Idempotency, error)
}

// registered lists the claims the issuer sets itself; a request may not.
var registered = []string{"iss", "iat", "nbf", "exp", "vct", "sub", "cnf", "status", "_sd", "_sd_alg"}

// Config holds the issuer's plain settings.
type Config struct {
	PublicURL       string // status list URIs are PublicURL + "/statuslists/" + id
	VCT             string
	ListSize        int
	DefaultValidity time.Duration
	MaxValidity     time.Duration
}

// Service issues agent certifications.
type Service struct {
	cfg      Config
	store    Store
	keys     *KeyRing
	schemas  *schemas.Registry
	resolver did.Resolver
	alloc    *revocation.Allocator
	now      func() time.Time
}

// New wires the issuer. It resumes index allocation from the newest status
// list in the records.
func New(ctx context.Context, cfg Config, st Store, keys *KeyRing, reg *schemas.Registry, resolver did.Resolver, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	s := &Service{cfg: cfg, store: st, keys: keys, schemas: reg, resolver: resolver, now: now}
	lists, err := st.StatusLists(ctx)
	if err != nil {
		return nil, fmt.Errorf("issuer: status lists: %w", err)
	}
	var current string
	var used []int
	if n := len(lists); n > 0 {
		newest := lists[n-1]
		for _, l := range lists {
			if l.CreatedAt.After(newest.CreatedAt) {
				newest = l
			}
		}
		current = newest.ID
		if used, err = st.UsedIndexes(ctx, current); err != nil {
			return nil, fmt.Errorf("issuer: used indexes: %w", err)
		}
	}
	s.alloc, err = revocation.NewAllocator(cfg.ListSize, s.openList, current, used)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// listIDBytes is the random bytes of a status list id (hex: twice as many
// characters).
const listIDBytes = 8

func (s *Service) openList(ctx context.Context, size int) (string, error) {
	id := randomID(listIDBytes)
	now := s.now().UTC()
	err := s.store.CreateStatusList(ctx, records.StatusList{ID: id, Size: size, Bits: 2, CreatedAt: now},
		&records.AuditEntry{Time: now, Actor: "system", Action: "statuslist.create", Target: id, Details: json.RawMessage(fmt.Sprintf(`{"size":%d,"bits":2}`, size))})
	return id, err
}

// StatusURI is the URI of a status list.
func (s *Service) StatusURI(listID string) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/statuslists/" + listID
}

// Keys returns the key ring.
func (s *Service) Keys() *KeyRing { return s.keys }

// IssueRequest is the body of POST /v1/credentials.
type IssueRequest struct {
	Subject                string          `json:"subject"`
	HolderJWK              json.RawMessage `json:"holder_jwk,omitempty"`
	Claims                 map[string]any  `json:"claims"`
	SelectivelyDisclosable []string        `json:"selectively_disclosable,omitempty"`
	ExpiresAt              *time.Time      `json:"expires_at,omitempty"`
	ValidFor               string          `json:"valid_for,omitempty"`
	// VCT is the credential type: the issuer's own (the agent
	// certification) when empty, or schemas.ApproverV1 to certify an
	// approver's key for a principal (subject: the approver's DID).
	VCT string `json:"vct,omitempty"`
}

// vct is the type req asks for; only the issuer's own and the approver
// credential are issued.
func (s *Service) vct(req IssueRequest) (string, error) {
	switch req.VCT {
	case "", s.cfg.VCT:
		return s.cfg.VCT, nil
	case schemas.ApproverV1:
		return schemas.ApproverV1, nil
	}
	return "", errcode.New(errcode.InvalidInput, "vct must be %q or %q", s.cfg.VCT, schemas.ApproverV1)
}

// StatusRef is a credential's place in a status list.
type StatusRef struct {
	Idx int    `json:"idx"`
	URI string `json:"uri"`
}

// Issued is the answer to an issuance.
type Issued struct {
	ID         string    `json:"id"`
	Credential string    `json:"credential"`
	Status     StatusRef `json:"status"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Replayed is true when an Idempotency-Key retry returned an earlier answer.
	Replayed bool `json:"-"`
}

// Actor identifies who asks: the API token's id and role.
type Actor struct{ TokenID, Role string }

// Issue validates req, signs the certification and records it durably
// before returning. idemKey, when not empty, makes a retry with the same
// body (reqHash) return the first answer.
func (s *Service) Issue(ctx context.Context, actor Actor, req IssueRequest, idemKey string, reqHash []byte) (*Issued, error) {
	if idemKey != "" {
		prev, err := s.store.Idempotent(ctx, actor.TokenID, idemKey)
		switch {
		case err == nil:
			return s.replay(prev, reqHash)
		case !errors.Is(err, records.ErrNotFound):
			return nil, fmt.Errorf("issuer: idempotency lookup: %w", err)
		}
	}
	payload, exp, sd, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// The client is gone: sign and record nothing for it.
		return nil, fmt.Errorf("issuer: request ended before signing: %w", err)
	}
	for attempt := 0; ; attempt++ {
		listID, idx, err := s.alloc.Allocate(ctx)
		if err != nil {
			return nil, err
		}
		ref := StatusRef{Idx: idx, URI: s.StatusURI(listID)}
		payload["status"] = statusClaim(idx, ref.URI)
		cred, err := sdjwt.Issue(payload, sd, s.keys.Active(), nil)
		if err != nil {
			return nil, fmt.Errorf("issuer: sign: %w", err)
		}
		id := "urn:uuid:" + uuid4()
		sum, err := sdjwt.CredentialDigest(cred)
		if err != nil {
			return nil, fmt.Errorf("issuer: digest: %w", err)
		}
		rec := records.Credential{
			ID: id, Subject: req.Subject, VCT: payload["vct"].(string), ListID: listID, Idx: idx,
			IssuedAt: issuedAt(payload), ExpiresAt: exp, JWTHash: sum[:], TokenID: actor.TokenID,
		}
		rec.PrincipalID, _ = nested(req.Claims, "principal", "id").(string)
		rec.AgentClass, _ = nested(req.Claims, "agent", "class").(string)
		out := &Issued{ID: id, Credential: cred, Status: ref, ExpiresAt: exp}
		var idem *records.Idempotency
		if idemKey != "" {
			resp, err := s.keys.seal(out, actor.TokenID+"\x00"+idemKey)
			if err != nil {
				return nil, err
			}
			idem = &records.Idempotency{TokenID: actor.TokenID, Key: idemKey, RequestHash: reqHash, CredentialID: id, Response: resp, CreatedAt: rec.IssuedAt}
		}
		details := records.AuditDetails(ctx, map[string]any{"subject": req.Subject, "principal": rec.PrincipalID, "list": listID, "idx": idx, "expires_at": exp})
		action := "credential.issue"
		if rec.VCT == schemas.ApproverV1 {
			// An approver certification: who may approve for which
			// principal is the issuer's decision, on its record.
			action = "approver.certify"
			rec.AgentClass = ""
		}
		audit := &records.AuditEntry{Time: s.now().UTC(), Actor: actor.TokenID, Action: action, Target: id, Details: details}
		err = s.store.InsertCredential(ctx, rec, idem, audit)
		if err == nil {
			return out, nil
		}
		if idem != nil && errors.Is(err, records.ErrConflict) {
			// A concurrent request with the same key may have won the race:
			// answer with its credential. Only when the key is not recorded
			// was the conflict the index's; a lookup that fails would fail
			// as well after each index drawn anew.
			prev, perr := s.store.Idempotent(ctx, actor.TokenID, idemKey)
			switch {
			case perr == nil:
				return s.replay(prev, reqHash)
			case !errors.Is(perr, records.ErrNotFound):
				return nil, fmt.Errorf("issuer: idempotency lookup after the store refused the credential (%v): %w", err, perr)
			}
		}
		if errors.Is(err, records.ErrConflict) && attempt < maxIndexRetries {
			// Another node sharing the database gave this index first (the
			// allocator never draws it again): draw another and sign anew.
			continue
		}
		return nil, fmt.Errorf("issuer: record credential: %w", err)
	}
}

// maxIndexRetries bounds how often Issue draws another status index after
// the store refused one another node had given.
const maxIndexRetries = 32

func (s *Service) replay(prev records.Idempotency, reqHash []byte) (*Issued, error) {
	if string(prev.RequestHash) != string(reqHash) {
		return nil, errcode.New(errcode.Conflict, "Idempotency-Key was used with a different request body")
	}
	var out Issued
	if err := s.keys.open(prev.Response, prev.TokenID+"\x00"+prev.Key, &out); err != nil {
		return nil, err
	}
	out.Replayed = true
	return &out, nil
}

// prepare builds and validates the claims to sign, with a placeholder
// status (validated before an index is allocated, so that a rejected request
// does not use one up), and the selectively disclosable pointers.
func (s *Service) prepare(ctx context.Context, req IssueRequest) (map[string]any, time.Time, []string, error) {
	payload, exp, err := s.payload(ctx, req)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	// Validated with the longest status claim an index can give (the list's
	// last index, a list id as long as openList makes), so that a rejected
	// request does not use up a status list index and the credential signed
	// with the real one is no larger than the one checked here.
	payload["status"] = statusClaim(s.cfg.ListSize-1, s.StatusURI(strings.Repeat("0", 2*listIDBytes)))
	sd, err := CheckPayload(s.schemas, payload["vct"].(string), payload, req.SelectivelyDisclosable)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	if err := s.fits(payload, sd); err != nil {
		return nil, time.Time{}, nil, err
	}
	return payload, exp, sd, nil
}

// payload builds the claims to sign, without status.
func (s *Service) payload(ctx context.Context, req IssueRequest) (map[string]any, time.Time, error) {
	if req.Claims == nil {
		return nil, time.Time{}, errcode.New(errcode.InvalidInput, "claims is required")
	}
	for _, name := range registered {
		if _, ok := req.Claims[name]; ok {
			return nil, time.Time{}, errcode.New(errcode.InvalidInput, "claim %q is set by the issuer and may not be given", name)
		}
	}
	if _, err := did.Parse(req.Subject); err != nil {
		return nil, time.Time{}, errcode.Wrap(errcode.InvalidInput, err, "subject must be the agent's DID")
	}
	holder, err := s.holderKey(ctx, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	exp, err := s.expiry(now, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	payload := make(map[string]any, len(req.Claims)+8)
	for k, v := range req.Claims {
		payload[k] = v
	}
	payload["iss"] = s.keys.Issuer()
	payload["iat"] = numericDate(now)
	payload["nbf"] = numericDate(now)
	payload["exp"] = numericDate(exp)
	if payload["vct"], err = s.vct(req); err != nil {
		return nil, time.Time{}, err
	}
	payload["sub"] = req.Subject
	payload["cnf"] = map[string]any{"jwk": holder}
	// Generic JSON values from here on: schema validation and signing then
	// take the payload as it is, with no encode and decode of their own.
	payload, err = sdjwt.Normalize(payload)
	if err != nil {
		return nil, time.Time{}, errcode.Wrap(errcode.InvalidInput, err, "claims")
	}
	return payload, exp, nil
}

// issuedAt reads back the iat that payload set.
func issuedAt(payload map[string]any) time.Time {
	n, _ := payload["iat"].(json.Number).Int64()
	return time.Unix(n, 0).UTC()
}

// numericDate is t as a JWT NumericDate.
func numericDate(t time.Time) json.Number {
	return json.Number(strconv.FormatInt(t.Unix(), 10))
}

// statusClaim is the status claim pointing at idx of the list at uri.
func statusClaim(idx int, uri string) map[string]any {
	return map[string]any{"status_list": map[string]any{"idx": json.Number(strconv.Itoa(idx)), "uri": uri}}
}

func (s *Service) expiry(now time.Time, req IssueRequest) (time.Time, error) {
	var exp time.Time
	switch {
	case req.ExpiresAt != nil && req.ValidFor != "":
		return time.Time{}, errcode.New(errcode.InvalidInput, "give expires_at or valid_for, not both")
	case req.ExpiresAt != nil:
		exp = req.ExpiresAt.UTC().Truncate(time.Second)
	case req.ValidFor != "":
		d, err := time.ParseDuration(req.ValidFor)
		if err != nil {
			return time.Time{}, errcode.New(errcode.InvalidInput, "valid_for %q is not a duration such as 720h", req.ValidFor)
		}
		exp = now.Add(d).Truncate(time.Second)
	default:
		exp = now.Add(s.cfg.DefaultValidity)
	}
	if !exp.After(now) {
		return time.Time{}, errcode.New(errcode.InvalidInput, "the credential would expire immediately")
	}
	if exp.Sub(now) > s.cfg.MaxValidity {
		return time.Time{}, errcode.New(errcode.InvalidInput, "validity exceeds the maximum of %s", s.cfg.MaxValidity)
	}
	return exp, nil
}

// holderKey returns cnf.jwk, which must be the subject's own key, so that
// nobody can certify a victim's DID with a key the caller holds: for a
// did:key or did:jwk subject the DID's key (a holder_jwk that differs is
// subject_key_mismatch); for any other DID one of the authentication keys
// its resolved document lists (holder_jwk picks one; without it, the
// first).
func (s *Service) holderKey(ctx context.Context, req IssueRequest) (map[string]any, error) {
	var given jwk.Key
	if len(req.HolderJWK) > 0 {
		var err error
		if given, err = keyutil.Parse(req.HolderJWK); err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "holder_jwk is not a P-256 or Ed25519 JWK")
		}
		if keyutil.IsPrivate(given) {
			return nil, errcode.New(errcode.InvalidInput, "holder_jwk must be a public key")
		}
	}
	var key jwk.Key
	if strings.HasPrefix(req.Subject, "did:key:") || strings.HasPrefix(req.Subject, "did:jwk:") {
		var err error
		if key, err = did.PublicKey(req.Subject); err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "subject DID has no usable key")
		}
		if given != nil {
			if !keyutil.SameKey(given, key) {
				return nil, errcode.New(errcode.SubjectKeyMismatch, "holder_jwk is not the key of subject %s; for a did:key or did:jwk subject the key is the DID's (leave holder_jwk out)", req.Subject)
			}
		}
	} else {
		keys, err := s.subjectKeys(ctx, req.Subject)
		if err != nil {
			return nil, err
		}
		key = keys[0]
		if given != nil {
			key = nil
			for _, k := range keys {
				if keyutil.SameKey(given, k) {
					key = k
					break
				}
			}
			if key == nil {
				return nil, errcode.New(errcode.SubjectKeyMismatch, "holder_jwk is not one of the authentication keys of subject %s's DID document", req.Subject)
			}
		}
	}
	return cnfJWK(key)
}

// subjectKeys resolves subject (through the resolver, and so the guarded
// fetcher) and returns the public keys of its authentication methods, in
// document order.
func (s *Service) subjectKeys(ctx context.Context, subject string) ([]jwk.Key, error) {
	doc, err := s.resolver.Resolve(ctx, subject)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "resolve subject DID")
	}
	var keys []jwk.Key
	for _, rel := range doc.Authentication {
		var k jwk.Key
		if vm := rel.Embedded; vm != nil && len(vm.PublicKeyJwk) > 0 {
			k, err = keyutil.Parse(vm.PublicKeyJwk)
		} else {
			kid := rel.ID()
			if strings.HasPrefix(kid, "#") {
				kid = subject + kid
			}
			k, err = authenticationKey(doc, kid)
		}
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "subject DID key")
		}
		if keyutil.IsPrivate(k) {
			return nil, errcode.New(errcode.InvalidInput, "subject DID document publishes a private key (authentication method %d): a DID document lists public keys only", len(keys))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errcode.New(errcode.InvalidInput, "subject DID document lists no authentication key")
	}
	return keys, nil
}

// authenticationKey returns the public key of the verification method kid in doc.
func authenticationKey(doc *did.Document, kid string) (jwk.Key, error) {
	for _, vm := range doc.VerificationMethod {
		id := vm.ID
		if strings.HasPrefix(id, "#") {
			id = doc.ID + id
		}
		if id == kid && len(vm.PublicKeyJwk) > 0 {
			return keyutil.Parse(vm.PublicKeyJwk)
		}
	}
	return nil, fmt.Errorf("verification method %s with a publicKeyJwk not found", kid)
}

// Get returns a credential record.
func (s *Service) Get(ctx context.Context, id string) (records.Credential, error) {
	c, err := s.store.Credential(ctx, id)
	if errors.Is(err, records.ErrNotFound) {
		return records.Credential{}, errcode.New(errcode.NotFound, "no credential %s", id)
	}
	return c, err
}

func nested(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func uuid4() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
