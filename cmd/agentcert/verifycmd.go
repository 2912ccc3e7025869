package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/spf13/cobra"
)

// verifyOutput is what `verify --json` prints.
type verifyOutput struct {
	Verified bool           `json:"verified"`
	Issuer   string         `json:"issuer,omitempty"`
	Subject  string         `json:"subject,omitempty"`
	VCT      string         `json:"vct,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	Errors   []outError     `json:"errors"`
}

type outError struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
}

func newVerifyCmd() *cobra.Command {
	var presFile, aud, nonce, issuerJWK, now string
	var trust []string
	var noKB, asJSON bool
	var maxKBAge time.Duration
	cmd := &cobra.Command{
		Use:   "verify --presentation FILE [--aud AUD --nonce NONCE] [--trust DID]... [--issuer-jwk FILE] [--no-kb] [--max-kb-age DURATION] [--now RFC3339] [--json]",
		Short: "Verify a presentation offline (exit 0 verified, 1 not verified, 2 usage error)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if presFile == "" {
				return usageErr("--presentation is required")
			}
			if !noKB && (aud == "" || nonce == "") {
				return usageErr("--aud and --nonce are required unless --no-kb is given")
			}
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			pres, err := readText(presFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			clock := time.Now
			if now != "" {
				t, err := time.Parse(time.RFC3339, now)
				if err != nil {
					return usageErr("--now: %v", err)
				}
				clock = func() time.Time { return t }
			}
			var pinned jwk.Key
			if issuerJWK != "" {
				if pinned, err = keyutil.ReadFile(issuerJWK); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				if pinned, err = keyutil.Public(pinned); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			resolver := newResolver(cfg)
			keyFn := func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
				if pinned != nil {
					return pinned, nil
				}
				if len(trust) > 0 && !slices.Contains(trust, iss) {
					return nil, errcode.New(errcode.UntrustedIssuer, "issuer %q is not among --trust", iss)
				}
				return verifier.DIDIssuerKey(ctx, resolver, iss, hdr)
			}
			if maxKBAge <= 0 {
				maxKBAge = cfg.Verifier.MaxKBAge
			}
			res, verr := sdjwt.Verify(cmd.Context(), pres, sdjwt.VerifyOptions{
				IssuerKey:  keyFn,
				Algorithms: []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA},
				Now:        clock,
				Leeway:     cfg.Verifier.Leeway,
				RequireKB:  !noKB,
				Audience:   aud,
				Nonce:      nonce,
				MaxKBAge:   maxKBAge,
			})
			out := verifyOutput{Verified: verr == nil, Errors: []outError{}}
			if verr != nil {
				out.Errors = append(out.Errors, toOutError(verr))
			} else {
				out.Claims = res.Claims
				out.Issuer, _ = res.Claims["iss"].(string)
				out.Subject, _ = res.Claims["sub"].(string)
				out.VCT, _ = res.Claims["vct"].(string)
			}
			if err := printVerify(cmd.OutOrStdout(), out, asJSON); err != nil {
				return err
			}
			if !out.Verified {
				return &exitError{code: exitNotVerified, err: verr}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&presFile, "presentation", "", "file with the presentation (SD-JWT, optionally with KB-JWT)")
	f.StringVar(&aud, "aud", "", "expected KB-JWT audience")
	f.StringVar(&nonce, "nonce", "", "expected KB-JWT nonce")
	f.StringArrayVar(&trust, "trust", nil, "trusted issuer DID (repeatable); without it any DID issuer whose key resolves is accepted")
	f.StringVar(&issuerJWK, "issuer-jwk", "", "pin the issuer's public key (JWK file) whatever iss says")
	f.BoolVar(&noKB, "no-kb", false, "do not require key binding")
	f.DurationVar(&maxKBAge, "max-kb-age", 0, "maximum KB-JWT age (default from config, 5m)")
	f.StringVar(&now, "now", "", "verify as of this time (RFC 3339)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func toOutError(err error) outError {
	code := errcode.CodeOf(err)
	msg := err.Error()
	if e, ok := err.(*errcode.Error); ok {
		msg = e.Message
	}
	return outError{Code: code, Message: msg}
}

func printVerify(w io.Writer, out verifyOutput, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if !out.Verified {
		for _, e := range out.Errors {
			fmt.Fprintf(w, "NOT VERIFIED: %s: %s\n", e.Code, e.Message)
		}
		return nil
	}
	fmt.Fprintf(w, "VERIFIED\nissuer:  %s\nsubject: %s\nvct:     %s\n", out.Issuer, out.Subject, out.VCT)
	b, err := json.MarshalIndent(out.Claims, "", "  ")
	if err != nil {
		return fmt.Errorf("encode claims: %w", err)
	}
	fmt.Fprintf(w, "claims:  %s\n", b)
	return nil
}
