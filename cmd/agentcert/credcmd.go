package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"
)

func newIssueCmd() *cobra.Command {
	var keyFile, claimsFile, holder, vct, iss string
	var sd []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "issue --key FILE --claims FILE [--sd POINTER]... [--holder DID] [--vct VCT] [--ttl DURATION] [--iss ISS]",
		Short: "Sign an SD-JWT VC offline with a private JWK and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "key", "claims"); err != nil {
				return err
			}
			key, err := keyutil.ReadPrivateFile(keyFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			claims, err := readJSONObject(claimsFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cred, err := issueOffline(key, claims, offlineIssue{SD: sd, Holder: holder, VCT: vct, TTL: ttl, Iss: iss, Now: time.Now()})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), cred)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "issuer private JWK file (its kid, a DID URL, names the issuer)")
	cmd.Flags().StringVar(&claimsFile, "claims", "", "JSON file with the credential claims")
	cmd.Flags().StringArrayVar(&sd, "sd", nil, "JSON Pointer of a claim to make selectively disclosable (repeatable; /* = every array element)")
	cmd.Flags().StringVar(&holder, "holder", "", "holder (agent) DID: becomes sub, and its key cnf.jwk")
	cmd.Flags().StringVar(&vct, "vct", config.AgentCertificationVCT, "credential type")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "validity period")
	cmd.Flags().StringVar(&iss, "iss", "", "issuer identifier (default: the key's DID)")
	return cmd
}

type offlineIssue struct {
	SD          []string
	Holder, VCT string
	TTL         time.Duration
	Iss         string
	Now         time.Time
}

// issueOffline adds the registered claims to claims and signs them.
func issueOffline(key jwk.Key, claims map[string]any, o offlineIssue) (string, error) {
	if o.TTL <= 0 {
		return "", errcode.New(errcode.InvalidInput, "--ttl must be positive")
	}
	iss := o.Iss
	if iss == "" {
		kid := key.KeyID()
		if !strings.HasPrefix(kid, "did:") {
			return "", errcode.New(errcode.InvalidInput, "the key has no DID URL kid; pass --iss")
		}
		iss, _, _ = strings.Cut(kid, "#")
	}
	claims["iss"] = iss
	claims["iat"] = o.Now.Unix()
	claims["nbf"] = o.Now.Unix()
	claims["exp"] = o.Now.Add(o.TTL).Unix()
	if o.VCT != "" {
		claims["vct"] = o.VCT
	}
	if o.Holder != "" {
		pub, err := did.PublicKey(o.Holder)
		if err != nil {
			return "", fmt.Errorf("--holder: %w", err)
		}
		cnf, err := keyutil.ToMap(pub)
		if err != nil {
			return "", err
		}
		claims["sub"] = o.Holder
		claims["cnf"] = map[string]any{"jwk": cnf}
	}
	sd := o.SD
	if vct, _ := claims["vct"].(string); vct != "" {
		reg, err := schemas.New()
		if err != nil {
			return "", err
		}
		if reg.Known(vct) {
			// The validation path of the issuer service: restricting
			// claims stated in clear, the type metadata's disclosure
			// rules and the JSON Schema.
			if sd, err = issuer.CheckPayload(reg, vct, claims, o.SD); err != nil {
				return "", err
			}
		}
	}
	return sdjwt.Issue(claims, sd, key, nil)
}

func newPresentCmd() *cobra.Command {
	var credFile, keyFile, aud, nonce string
	var disclose []string
	var all bool
	cmd := &cobra.Command{
		Use:   "present --credential FILE --key FILE --aud AUD --nonce NONCE [--disclose POINTER]... [--disclose-all]",
		Short: "Select disclosures from a credential and add a key-binding JWT",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "credential", "key", "aud", "nonce"); err != nil {
				return err
			}
			cred, key, err := readCredentialAndKey(credFile, keyFile)
			if err != nil {
				return err
			}
			if all {
				disclose = []string{""}
			}
			kb := &sdjwt.KBOptions{Key: key, Audience: aud, Nonce: nonce, IssuedAt: time.Now()}
			var p string
			if sdjwt.IsChain(cred) {
				// A delegation chain: the last delegate adds the KB-JWT.
				if all {
					disclose = nil // keep every disclosure the chain carries
				}
				p, err = sdjwt.PresentChain(cred, disclose, kb)
			} else {
				p, err = sdjwt.Present(cred, disclose, kb)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Flags().StringVar(&credFile, "credential", "", "file with the issued SD-JWT, or a delegation chain (agentcert delegate)")
	cmd.Flags().StringVar(&keyFile, "key", "", "holder private JWK file (the key in cnf.jwk)")
	cmd.Flags().StringVar(&aud, "aud", "", "audience: the verifier's identifier")
	cmd.Flags().StringVar(&nonce, "nonce", "", "nonce from the verifier")
	cmd.Flags().StringArrayVar(&disclose, "disclose", nil, "JSON Pointer of a claim to disclose (repeatable; /* = every element)")
	cmd.Flags().BoolVar(&all, "disclose-all", false, "disclose every claim")
	return cmd
}

// readText reads a file holding one token, trimming surrounding white space.
func readText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "read %s", path)
	}
	return strings.TrimSpace(string(b)), nil
}

// readJSONObject reads a JSON object through jsonstrict (no duplicate or
// case-variant members, bounded numbers), keeping numbers exact.
func readJSONObject(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "read %s", path)
	}
	var m map[string]any
	if err := jsonstrict.Decode(b, &m); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "%s: %s", path, err)
	}
	if m == nil {
		return nil, errcode.New(errcode.InvalidInput, "%s: not a JSON object", path)
	}
	return m, nil
}

// readCredentialAndKey reads a credential and the holder's private key; a
// file that cannot be read is a usage error.
func readCredentialAndKey(credFile, keyFile string) (string, jwk.Key, error) {
	cred, err := readText(credFile)
	if err != nil {
		return "", nil, &exitError{code: exitUsage, err: err}
	}
	key, err := keyutil.ReadPrivateFile(keyFile)
	if err != nil {
		return "", nil, &exitError{code: exitUsage, err: err}
	}
	return cred, key, nil
}
