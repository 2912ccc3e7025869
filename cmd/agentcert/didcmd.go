package main

import (
	"encoding/json"
	"fmt"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"
)

func newDIDCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "did", Short: "Create and resolve DIDs"}
	cmd.AddCommand(newDIDCreateCmd(), newDIDResolveCmd())
	return cmd
}

func newDIDCreateCmd() *cobra.Command {
	var method, alg, out string
	cmd := &cobra.Command{
		Use:   "create --method key|jwk [--alg ES256|EdDSA] --out FILE",
		Short: "Generate a key pair, write the private JWK (0600) and print its DID",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("--out is required")
			}
			key, id, err := createDIDKey(method, alg)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if err := keyutil.WriteFile(out, key); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	cmd.Flags().StringVar(&method, "method", "key", "DID method: key or jwk")
	cmd.Flags().StringVar(&alg, "alg", "ES256", "key algorithm: ES256 (P-256) or EdDSA (Ed25519)")
	_ = cmd.RegisterFlagCompletionFunc("method", cobra.FixedCompletions([]string{"key", "jwk"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("alg", cobra.FixedCompletions(algValues, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&out, "out", "", "file to write the private JWK to (must not exist)")
	return cmd
}

// createDIDKey generates a key and its did:key or did:jwk; the returned
// private key's kid is the DID URL of its verification method.
func createDIDKey(method, algName string) (jwk.Key, string, error) {
	alg, err := keyutil.ParseAlg(algName)
	if err != nil {
		return nil, "", err
	}
	key, err := keyutil.Generate(alg)
	if err != nil {
		return nil, "", err
	}
	pub, err := keyutil.Public(key)
	if err != nil {
		return nil, "", err
	}
	var id string
	switch method {
	case "key":
		id, err = did.KeyDID(pub)
	case "jwk":
		id, err = did.JWKDID(pub)
	default:
		return nil, "", fmt.Errorf("--method %q: use key or jwk", method)
	}
	if err != nil {
		return nil, "", err
	}
	kid, err := did.VerificationMethodID(id)
	if err != nil {
		return nil, "", err
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, "", fmt.Errorf("set kid: %w", err)
	}
	return key, id, nil
}

func newDIDResolveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resolve DID",
		Short: "Resolve a DID (did:key, did:jwk, did:web) and print its document",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			if _, err := did.Parse(args[0]); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			doc, err := newResolver(cfg).Resolve(cmd.Context(), args[0])
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "agentcert:", oneLine(err))
				return &exitError{code: exitNotVerified}
			}
			b, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return fmt.Errorf("encode document: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
}

// newFetcher builds the guarded outbound fetcher from config.
func newFetcher(cfg config.Config) *did.Fetcher {
	return did.NewFetcher(did.FetcherConfig{
		AllowHosts: cfg.Fetch.AllowHosts,
		Timeout:    cfg.Fetch.Timeout,
		MaxBytes:   cfg.Fetch.MaxBytes,
	})
}

// newResolver builds a caching DID resolver from config.
func newResolver(cfg config.Config) did.Resolver {
	return did.NewCachingResolver(did.NewResolver(newFetcher(cfg)), cfg.Verifier.CacheTTL, cfg.Verifier.CacheEntries, nil)
}
