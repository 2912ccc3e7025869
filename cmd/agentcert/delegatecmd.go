package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"
)

func newDelegateCmd() *cobra.Command {
	var credFile, keyFile, to, toJWK, taskID, purpose, link string
	var perms, prohibit, disclose []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "delegate --credential FILE --key PARENT_KEY (--to DID | --to-jwk FILE) --permission JSON... [--prohibit ACTION]... --ttl 15m [--task-id ID --purpose TEXT]",
		Short: "Hand part of a certification's authority to a sub-agent or task (prints a Delegate SD-JWT)",
		Long: `Append one delegation hop (a KB-SD-JWT, vct urn:agentcert:delegation:v1) to a certification or to a
delegation chain, signed with the key its cnf.jwk names. The hop may only narrow: every --permission must be
covered by one of the parent's, the parent's prohibitions are carried over (--prohibit adds more), and the hop
ends no later than its parent. These rules are checked before signing, as every verifier checks them. The
delegate presents the result with 'agentcert present' and its own key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if credFile == "" || keyFile == "" || (to == "" && toJWK == "") || len(perms) == 0 {
				return usageErr("--credential, --key, --to or --to-jwk, and at least one --permission are required")
			}
			if ttl <= 0 {
				return usageErr("--ttl must be a positive duration")
			}
			if purpose != "" && taskID == "" {
				return usageErr("--purpose needs --task-id")
			}
			cred, err := readText(credFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			key, err := keyutil.ReadPrivateFile(keyFile)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out, err := delegateOffline(cred, key, delegation{
				To: to, ToJWK: toJWK, Permissions: perms, Prohibit: prohibit, TTL: ttl, TaskID: taskID, Purpose: purpose,
				Link: sdjwt.Link(link), Disclose: disclose, Now: time.Now(),
			})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&credFile, "credential", "", "file with the certification (SD-JWT) or a delegation chain to extend")
	f.StringVar(&keyFile, "key", "", "the delegator's private JWK (the key cnf.jwk names)")
	f.StringVar(&to, "to", "", "the delegate's DID (did:key or did:jwk give its key; did:web needs --to-jwk)")
	f.StringVar(&toJWK, "to-jwk", "", "the delegate's public JWK file (its did:jwk is the sub unless --to is given)")
	f.StringArrayVar(&perms, "permission", nil, `a permission as JSON, e.g. '{"action":"payments:initiate","constraints":{"max_amount":50,"currency":"EUR"}}' (repeatable)`)
	f.StringArrayVar(&prohibit, "prohibit", nil, "an action to prohibit besides the parent's prohibitions (repeatable)")
	f.DurationVar(&ttl, "ttl", 15*time.Minute, "how long the hop is valid (at most the policy's hop lifetime, 1h by default)")
	f.StringVar(&taskID, "task-id", "", "the task the authority is handed over for")
	f.StringVar(&purpose, "purpose", "", "what the task is for")
	f.StringVar(&link, "link", string(sdjwt.LinkSDHash), "sd_hash (the disclosures passed on are fixed) or issuer_jwt_hash (the delegate chooses the certification's disclosures)")
	f.StringArrayVar(&disclose, "disclose", nil, "with a certification: JSON Pointer of a claim to pass on (repeatable; default every disclosure)")
	return cmd
}

type delegation struct {
	To, ToJWK       string
	Permissions     []string
	Prohibit        []string
	TTL             time.Duration
	TaskID, Purpose string
	Link            sdjwt.Link
	Disclose        []string
	Now             time.Time
}

// delegateOffline builds, checks and signs one hop on cred.
func delegateOffline(cred string, key jwk.Key, d delegation) (string, error) {
	if d.Link != sdjwt.LinkSDHash && d.Link != sdjwt.LinkIssuerJWTHash {
		return "", errcode.New(errcode.InvalidInput, "--link must be sd_hash or issuer_jwt_hash")
	}
	sub, cnf, err := delegateIdentity(d.To, d.ToJWK)
	if err != nil {
		return "", err
	}
	if len(d.Disclose) > 0 {
		if sdjwt.IsChain(cred) {
			return "", errcode.New(errcode.InvalidInput, "--disclose applies to a certification, not to a delegation chain")
		}
		if cred, err = sdjwt.Present(cred, d.Disclose, nil); err != nil {
			return "", err
		}
	}
	claims, hops, err := sdjwt.HolderClaims(cred)
	if err != nil {
		return "", err
	}
	holder, err := sdjwt.HolderKey(claims)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "the credential being delegated names no holder key")
	}
	if !keyutil.SameKey(holder, key) {
		return "", errcode.New(errcode.InvalidInput, "--key is not the holder key (cnf.jwk) of the credential being delegated")
	}
	parent := verifier.DelegateAuthority(claims)
	if hops == 0 {
		parent = verifier.RootAuthority(claims)
	}
	var permissions []any
	for _, p := range d.Permissions {
		dec := json.NewDecoder(bytes.NewReader([]byte(p)))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m == nil {
			return "", errcode.New(errcode.InvalidInput, "--permission %s is not a JSON object", p)
		}
		permissions = append(permissions, m)
	}
	prohibitions := append([]any{}, parent.Prohibitions...)
	for _, p := range d.Prohibit {
		if !slices.Contains(prohibitions, any(p)) {
			prohibitions = append(prohibitions, p)
		}
	}
	payload := map[string]any{
		"vct": schemas.DelegationV1, "sub": sub, "cnf": map[string]any{"jwk": cnf},
		"iat": d.Now.Unix(), "exp": d.Now.Add(d.TTL).Unix(),
		"permissions": permissions, "prohibitions": prohibitions,
	}
	if d.TaskID != "" {
		task := map[string]any{"id": d.TaskID}
		if d.Purpose != "" {
			task["purpose"] = d.Purpose
		}
		payload["task"] = task
	}
	if obo, ok := claims["on_behalf_of"].(map[string]any); ok {
		payload["on_behalf_of"] = obo
	}
	norm, err := sdjwt.Normalize(payload) // the JSON types a verifier sees
	if err != nil {
		return "", err
	}
	reg, err := schemas.New()
	if err != nil {
		return "", err
	}
	lim := verifier.DelegationLimits{}
	if hops+1 > verifier.DefaultMaxDelegationDepth {
		return "", errcode.New(errcode.DelegationDepth, "a chain of %d hops is over the default max_delegation_depth %d", hops+1, verifier.DefaultMaxDelegationDepth)
	}
	if _, err := verifier.CheckHop(reg, parent, norm, lim); err != nil {
		return "", err
	}
	return sdjwt.Delegate(cred, payload, sdjwt.DelegateOptions{Key: key, IssuedAt: d.Now, Link: d.Link})
}

// delegateIdentity gives the delegate's sub and cnf.jwk.
func delegateIdentity(to, toJWK string) (string, map[string]any, error) {
	var pub jwk.Key
	if toJWK != "" {
		k, err := keyutil.ReadFile(toJWK)
		if err == nil {
			pub, err = keyutil.Public(k)
		}
		if err != nil {
			return "", nil, err
		}
		if to == "" {
			if to, err = did.JWKDID(pub); err != nil {
				return "", nil, err
			}
		}
	} else {
		k, err := did.PublicKey(to)
		if err != nil {
			return "", nil, fmt.Errorf("--to: %w (a did:web delegate needs --to-jwk)", err)
		}
		pub = k
	}
	m, err := keyutil.ToMap(pub)
	if err != nil {
		return "", nil, err
	}
	delete(m, "kid")
	return to, m, nil
}

// printChain prints the hops of a verified delegation chain, one a line,
// and the effective permissions.
func printChain(w io.Writer, out *verifier.Result) {
	for i, h := range out.Chain {
		task := ""
		if id, ok := h.Task["id"].(string); ok {
			task = " task " + id
			if p, ok := h.Task["purpose"].(string); ok {
				task += fmt.Sprintf(" (%s)", p)
			}
		}
		fmt.Fprintf(w, "hop %d:   %s%s, until %s, %s\n", i+1, h.Subject, task, time.Unix(h.Expires, 0).UTC().Format(time.RFC3339), h.Link)
	}
	if len(out.Chain) > 0 {
		b, _ := json.Marshal(out.EffectivePermissions)
		fmt.Fprintf(w, "effective permissions: %s\n", b)
	}
}
