package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
)

type tokenKey struct{}

// tokenFrom returns the authenticated token of a request.
func tokenFrom(ctx context.Context) (store.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(store.Token)
	return t, ok
}

// TokenLookup finds a token by its hash.
type TokenLookup interface {
	TokenByHash(ctx context.Context, hash []byte) (store.Token, error)
}

// authenticate checks the bearer token and that its role is one of roles.
func (s *Server) authenticate(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := s.bearer(r)
			if err != nil {
				writeError(w, r, s.log, err)
				return
			}
			if info := reqInfoFrom(r.Context()); info != nil {
				info.tokenID, info.role = tok.ID, tok.Role
			}
			if !s.tokenAllowed(w, r, tok.ID) {
				return
			}
			if len(roles) > 0 && !slices.Contains(roles, tok.Role) {
				writeError(w, r, s.log, errcode.New(errcode.Forbidden, "role %s may not do this (needs %s)", tok.Role, strings.Join(roles, " or ")))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
		})
	}
}

func (s *Server) bearer(r *http.Request) (store.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return store.Token{}, errcode.New(errcode.Unauthorized, "a bearer token is required")
	}
	if s.tokens == nil {
		return store.Token{}, errcode.New(errcode.Unauthorized, "this server has no token store")
	}
	hash := tokens.Hash(strings.TrimSpace(secret))
	if tok, ok := s.tokenCache.get(hash); ok {
		return tok, nil
	}
	gen := s.tokenCache.generation()
	tok, err := s.tokens.TokenByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, errcode.New(errcode.Unauthorized, "unknown token")
	}
	if err != nil {
		return store.Token{}, err
	}
	if subtle.ConstantTimeCompare(tok.Hash, hash) != 1 || tok.RevokedAt != nil {
		return store.Token{}, errcode.New(errcode.Unauthorized, "unknown or revoked token")
	}
	s.tokenCache.put(hash, tok, gen)
	return tok, nil
}
