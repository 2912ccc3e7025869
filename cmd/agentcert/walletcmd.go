package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/spf13/cobra"
)

// newWalletCmd is the agent's side of the credential protocols: each
// protocol adds its subcommand here.
func newWalletCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wallet",
		Short: "The agent's side of OpenID4VC: receive credentials, present them",
	}
	cmd.AddCommand(newWalletReceiveCmd(), newWalletProofCmd(), newWalletPresentCmd())
	return cmd
}

func newWalletProofCmd() *cobra.Command {
	var keyFile, aud, nonce string
	cmd := &cobra.Command{
		Use:   "proof --key FILE --aud ISSUER --nonce C_NONCE",
		Short: "Print an OpenID4VCI jwt key proof (for driving the protocol by hand)",
		Long: `Sign an openid4vci-proof+jwt with the private JWK in --key, for the credential issuer --aud and the
c_nonce --nonce, and print it. A key whose kid is a DID URL is named by kid, any other by its jwk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" || aud == "" || nonce == "" {
				return usageErr("--key, --aud and --nonce are required")
			}
			k, err := keyutil.ReadPrivateFile(keyFile)
			if err != nil {
				return usageErr("--key %s: %v", keyFile, err)
			}
			p, err := oid4vci.SignProof(k, aud, nonce, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "private JWK of the holder key")
	cmd.Flags().StringVar(&aud, "aud", "", "the credential issuer identifier")
	cmd.Flags().StringVar(&nonce, "nonce", "", "a c_nonce from the nonce endpoint")
	return cmd
}

// walletMaxResponse bounds every answer the wallet reads.
const walletMaxResponse = 1 << 20

func newWalletReceiveCmd() *cobra.Command {
	var keyFiles []string
	var txCode, out string
	cmd := &cobra.Command{
		Use:   "receive OFFER --key FILE [--key FILE]... [--tx-code CODE] --out FILE",
		Short: "Receive a certification over OpenID4VCI (pre-authorized code flow)",
		Long: `Run the OpenID4VCI 1.0 client flow for a credential offer (an openid-credential-offer:// link, by
value or by credential_offer_uri, or the offer's JSON; "-" reads it from stdin): issuer and
authorization server metadata, token (with --tx-code when the offer asks for one; refused when it does
not), nonce, one jwt key
proof per --key, credential. Every credential received is checked (iss the did:web of the offer's
credential issuer, or a did:key/did:jwk, its signature through that DID, vct, cnf bound to its key,
subject the key's DID)
and written to --out, one per line
in the order of the keys. A key whose kid is a DID URL is named by kid, any other by its jwk; the
subject is the key's DID either way. Plain http is used only for loopback hosts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyFiles) == 0 || out == "" {
				return usageErr("--key and --out are required")
			}
			var keys []jwk.Key
			for _, f := range keyFiles {
				k, err := keyutil.ReadPrivateFile(f)
				if err != nil {
					return usageErr("--key %s: %v", f, err)
				}
				keys = append(keys, k)
			}
			link := args[0]
			if link == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), oid4vci.MaxOfferBytes+1))
				if err != nil {
					return usageErr("read the offer: %v", err)
				}
				link = string(b)
			}
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			w := &wallet{http: newWalletHTTPClient(cfg.Fetch.Timeout), resolver: newResolver(cfg), now: time.Now}
			creds, err := w.receive(cmd.Context(), link, txCode, txCodeGiven(cmd), keys)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, []byte(strings.Join(creds, "\n")+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "received %d credential(s) into %s\n", len(creds), out)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "private JWK of a holder key (repeat for a batch: one credential per key)")
	cmd.Flags().StringVar(&txCode, "tx-code", "", "the transaction code the operator gave")
	cmd.Flags().StringVar(&out, "out", "", "file for the credentials, one per line (mode 0600)")
	return cmd
}

func txCodeGiven(cmd *cobra.Command) bool { return cmd.Flags().Changed("tx-code") }

// wallet runs the OpenID4VCI client flow.
type wallet struct {
	http     *http.Client
	resolver did.Resolver
	now      func() time.Time
}

// receive runs offer -> metadata -> token -> nonce -> proofs -> credential
// and checks every credential received.
func (w *wallet) receive(ctx context.Context, link, txCode string, txGiven bool, keys []jwk.Key) ([]string, error) {
	offer, uri, err := oid4vci.ParseOfferLink(link)
	if err != nil {
		return nil, usageErr("the offer: %v", err)
	}
	if offer == nil {
		var b []byte
		if b, err = w.get(ctx, uri); err != nil {
			return nil, fmt.Errorf("fetch the credential offer: %w", err)
		}
		if offer, err = oid4vci.ParseOffer(b); err != nil {
			return nil, fmt.Errorf("the credential offer at %s: %w", uri, err)
		}
	}
	grant := offer.Grants.PreAuthorizedCode
	if grant.TxCode != nil && !txGiven {
		return nil, usageErr("the offer asks for a transaction code (%s): give --tx-code", grant.TxCode.Description)
	}
	if grant.TxCode == nil && txGiven {
		// The code was meant for an issuer that asked for one; this offer's
		// issuer did not, and is not sent it.
		return nil, usageErr("the offer asks for no transaction code: leave --tx-code out")
	}
	var md oid4vci.IssuerMetadata
	if err := w.getJSON(ctx, wellKnown(offer.CredentialIssuer, oid4vci.WellKnownIssuer), &md); err != nil {
		return nil, fmt.Errorf("credential issuer metadata: %w", err)
	}
	if md.CredentialIssuer != offer.CredentialIssuer {
		return nil, fmt.Errorf("the metadata names credential_issuer %q, the offer %q", md.CredentialIssuer, offer.CredentialIssuer)
	}
	confID, conf := "", oid4vci.CredentialConfiguration{}
	for _, id := range offer.CredentialConfigurationIDs {
		if c, ok := md.CredentialConfigurationsSupported[id]; ok && c.Format == oid4vci.FormatSDJWTVC {
			confID, conf = id, c
			break
		}
	}
	if confID == "" {
		return nil, errors.New("the offer names no dc+sd-jwt credential configuration of the issuer's metadata")
	}
	if b := md.BatchCredentialIssuance; len(keys) > 1 && (b == nil || b.BatchSize < len(keys)) {
		return nil, usageErr("the issuer accepts at most %d key(s) in one request", max(1, batchSize(b)))
	}
	as := md.CredentialIssuer
	if len(md.AuthorizationServers) > 0 {
		as = md.AuthorizationServers[0]
	}
	var asmd oid4vci.ASMetadata
	if err := w.getJSON(ctx, wellKnown(as, oid4vci.WellKnownAS), &asmd); err != nil {
		return nil, fmt.Errorf("authorization server metadata: %w", err)
	}
	if asmd.Issuer != as || asmd.TokenEndpoint == "" {
		return nil, fmt.Errorf("the authorization server metadata of %s is not its own", as)
	}
	form := url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}, "pre-authorized_code": {grant.Code}}
	if txGiven {
		form.Set("tx_code", txCode)
	}
	var tok oid4vci.TokenResponse
	if err := w.post(ctx, asmd.TokenEndpoint, "", "application/x-www-form-urlencoded", []byte(form.Encode()), &tok); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		return nil, errors.New("token: the answer has no Bearer access token")
	}
	var nonce oid4vci.NonceResponse
	if err := w.post(ctx, md.NonceEndpoint, "", "", nil, &nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	var proofs []string
	for _, k := range keys {
		p, err := oid4vci.SignProof(k, md.CredentialIssuer, nonce.CNonce, w.now())
		if err != nil {
			return nil, err
		}
		proofs = append(proofs, p)
	}
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": confID, "proofs": map[string]any{"jwt": proofs}})
	var resp oid4vci.CredentialResponse
	if err := w.post(ctx, md.CredentialEndpoint, tok.AccessToken, "application/json", body, &resp); err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	if len(resp.Credentials) != len(keys) {
		return nil, fmt.Errorf("credential: %d credentials for %d proofs", len(resp.Credentials), len(keys))
	}
	var out []string
	for i, c := range resp.Credentials {
		if err := w.check(ctx, c.Credential, md.CredentialIssuer, conf.VCT, keys[i]); err != nil {
			return nil, fmt.Errorf("credential %d: %w", i+1, err)
		}
		out = append(out, c.Credential)
	}
	return out, nil
}

func batchSize(b *oid4vci.BatchIssuance) int {
	if b == nil {
		return 1
	}
	return b.BatchSize
}

// check verifies a received credential: that its iss is the did:web of
// credentialIssuer, the issuer's signature (key from that DID), its vct, and
// that it is bound to key with the key's DID as subject.
func (w *wallet) check(ctx context.Context, cred, credentialIssuer, vct string, key jwk.Key) error {
	res, err := sdjwt.Verify(ctx, cred, sdjwt.VerifyOptions{IssuerKey: func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
		// Checked before iss is resolved: no DID the offer did not name
		// is fetched.
		if err := issuerIsOfferer(iss, credentialIssuer); err != nil {
			return nil, err
		}
		return did.IssuerKey(ctx, w.resolver, iss, hdr.KeyID())
	}})
	if err != nil {
		return fmt.Errorf("does not verify: %w", err)
	}
	if res.Claims["vct"] != vct {
		return fmt.Errorf("vct is %v, want %s", res.Claims["vct"], vct)
	}
	holder, err := sdjwt.HolderKey(res.Claims)
	if err != nil {
		return err
	}
	pub, err := keyutil.Public(key)
	if err != nil {
		return err
	}
	got, err1 := holder.Thumbprint(crypto.SHA256)
	want, err2 := pub.Thumbprint(crypto.SHA256)
	if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
		return errors.New("cnf.jwk is not the key of its proof")
	}
	sub := ""
	if u, err := did.ParseURL(key.KeyID()); err == nil && u.Fragment != "" {
		sub = u.DID.String()
	} else if sub, err = did.KeyDID(key); err != nil {
		return err
	}
	if res.Claims["sub"] != sub {
		return fmt.Errorf("sub is %v, want %s", res.Claims["sub"], sub)
	}
	return nil
}

// issuerIsOfferer checks that a did:web iss is the did:web of the credential
// issuer identifier credentialIssuer: the same host and port, and the DID's
// path the identifier's (no path: the DID of the host). A credential signed
// under another did:web did not come from the issuer whose offer was run.
// A did:key or did:jwk iss (an agentcert issuer with issuer.did_method key)
// names a key, not an origin: nothing binds it to credentialIssuer, and it
// is taken as the offering issuer's own (the wallet prints it).
func issuerIsOfferer(iss, credentialIssuer string) error {
	if strings.HasPrefix(iss, "did:key:") || strings.HasPrefix(iss, "did:jwk:") {
		return nil
	}
	ci, err := url.Parse(credentialIssuer)
	if err != nil {
		return fmt.Errorf("credential issuer %q: %w", credentialIssuer, err)
	}
	wantPath := "/.well-known/did.json"
	if p := strings.Trim(ci.Path, "/"); p != "" {
		wantPath = "/" + p + "/did.json"
	}
	if u, err := did.WebURL(iss, func(string) bool { return false }); err == nil {
		if du, err := url.Parse(u); err == nil && strings.EqualFold(du.Host, ci.Host) && du.Path == wantPath {
			return nil
		}
	}
	return fmt.Errorf("the credential's iss %q is not the credential issuer %s (its did:web)", iss, credentialIssuer)
}

// wellKnown inserts a well-known path between an identifier's host and its
// path, as RFC 8414 and OpenID4VCI do.
func wellKnown(id, suffix string) string {
	u, err := url.Parse(id)
	if err != nil {
		return id + suffix
	}
	u.Path = suffix + strings.TrimRight(u.Path, "/")
	return u.String()
}

// walletURL refuses plain http except to loopback hosts.
func walletURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%s: only https (or http to a loopback host) is allowed", raw)
}

func (w *wallet) get(ctx context.Context, u string) ([]byte, error) {
	return w.do(ctx, http.MethodGet, u, "", "", nil)
}

func (w *wallet) getJSON(ctx context.Context, u string, out any) error {
	b, err := w.get(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: not the expected JSON: %w", u, err)
	}
	return nil
}

func (w *wallet) post(ctx context.Context, u, token, ctype string, body []byte, out any) error {
	b, err := w.do(ctx, http.MethodPost, u, token, ctype, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: not the expected JSON: %w", u, err)
	}
	return nil
}

// do makes one request; a non-2xx answer becomes an error naming the
// OAuth error and agentcert's code when the body has them.
func (w *wallet) do(ctx context.Context, method, u, token, ctype string, body []byte) ([]byte, error) {
	if err := walletURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, walletMaxResponse+1))
	if err != nil {
		return nil, err
	}
	if len(b) > walletMaxResponse {
		return nil, fmt.Errorf("%s: the answer is larger than %d bytes", u, walletMaxResponse)
	}
	if resp.StatusCode/100 != 2 {
		var e oid4vci.ErrorResponse
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s %s: %s (code %s): %s", method, u, e.Error, e.Code, e.Description)
		}
		return nil, fmt.Errorf("%s %s: status %d", method, u, resp.StatusCode)
	}
	return b, nil
}

// walletMaxRedirects bounds the redirects one GET of the wallet follows.
const walletMaxRedirects = 5

// newWalletHTTPClient is the wallet's HTTP client. A GET (a request_uri,
// an offer, metadata) follows a redirect only to a URL walletURL allows; a
// POST (an authorization response, a token or credential request) follows
// none: what it carries goes where the request said, or nowhere, and a
// redirect is not taken for an answer.
func newWalletHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if first := via[0]; first.Method != http.MethodGet {
			return fmt.Errorf("%s %s was answered with a redirect to %s, which the wallet does not follow", first.Method, first.URL.Redacted(), req.URL.Redacted())
		}
		if len(via) > walletMaxRedirects {
			return fmt.Errorf("GET %s: more than %d redirects", via[0].URL.Redacted(), walletMaxRedirects)
		}
		if err := walletURL(req.URL.String()); err != nil {
			return fmt.Errorf("GET %s redirects to %w", via[0].URL.Redacted(), err)
		}
		return nil
	}}
}
