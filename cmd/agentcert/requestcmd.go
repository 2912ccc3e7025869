package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/agentcert/agentcert/agentclient"
	"github.com/spf13/cobra"
)

// exitRefused is the exit status of `agentcert request` when the
// counterparty answered with a status of 400 or more.
const exitRefused = 1

func newRequestCmd() *cobra.Command {
	var credFile, keyFile, method, data, aud, nonceURL, tag, sigAgent string
	var headers, disclose []string
	var include bool
	var timeout, lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "request --credential FILE --key FILE [-X METHOD] [-d BODY|@FILE] [-H 'Name: value']... URL",
		Short: "Send an HTTP request signed with the agent's key (RFC 9421), presenting its credential when asked",
		Long: `request is a small curl for certified agents. It signs the request with
HTTP Message Signatures (RFC 9421) under the key in the credential's cnf.jwk
(covering @method, @authority, @path, @query and, with a body, Content-Digest),
and sends the credential in Agent-Credential with a key-binding JWT when the
counterparty asks for it (or first, with --nonce-url). The response body goes
to stdout; with -i the status line and headers come first. The exit status is 0
for an answer below 400, 1 for 400 and above, 2 for bad flags or files.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if credFile == "" || keyFile == "" {
				return usageErr("--credential and --key are required")
			}
			u, err := url.Parse(args[0])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageErr("the URL must be an absolute http or https URL")
			}
			cred, key, err := readCredentialAndKey(credFile, keyFile)
			if err != nil {
				return err
			}
			var body io.Reader
			if data != "" {
				b := []byte(data)
				if strings.HasPrefix(data, "@") {
					if b, err = os.ReadFile(data[1:]); err != nil {
						return &exitError{code: exitUsage, err: err}
					}
				}
				body = strings.NewReader(string(b))
				if method == "" {
					method = http.MethodPost
				}
			}
			if method == "" {
				method = http.MethodGet
			}
			o := agentclient.Options{Credential: cred, Key: key, Disclose: disclose, Tag: tag, SignatureAgent: sigAgent, Lifetime: lifetime}
			if aud != "" {
				o.Audience = func(*http.Request) string { return aud }
			}
			if nonceURL != "" {
				o.NonceURL = func(*http.Request) string { return nonceURL }
			}
			tr, err := agentclient.New(o)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			req, err := http.NewRequestWithContext(cmd.Context(), strings.ToUpper(method), u.String(), body)
			if err != nil {
				return usageErr("%v", err)
			}
			for _, h := range headers {
				name, value, ok := strings.Cut(h, ":")
				if !ok || strings.TrimSpace(name) == "" {
					return usageErr("-H %q: want 'Name: value'", h)
				}
				req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
			}
			if body != nil && req.Header.Get("Content-Type") == "" {
				req.Header.Set("Content-Type", "application/json")
			}
			client := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}
			resp, err := client.Do(req)
			if err != nil {
				return &exitError{code: exitRefused, err: fmt.Errorf("request: %w", err)}
			}
			defer resp.Body.Close()
			out := cmd.OutOrStdout()
			if include {
				fmt.Fprintf(out, "%s %s\n", resp.Proto, resp.Status)
				names := make([]string, 0, len(resp.Header))
				for k := range resp.Header {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					for _, v := range resp.Header[k] {
						fmt.Fprintf(out, "%s: %s\n", k, v)
					}
				}
				fmt.Fprintln(out)
			}
			if _, err := io.Copy(out, io.LimitReader(resp.Body, 64<<20)); err != nil {
				return &exitError{code: exitRefused, err: fmt.Errorf("read the answer: %w", err)}
			}
			if resp.StatusCode >= 400 {
				return &exitError{code: exitRefused, err: errors.New("the counterparty answered " + resp.Status)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&credFile, "credential", "", "file with the issued SD-JWT")
	f.StringVar(&keyFile, "key", "", "the agent's private JWK file (the key in cnf.jwk)")
	f.StringVarP(&method, "request", "X", "", "HTTP method (default GET, or POST with -d)")
	f.StringVarP(&data, "data", "d", "", "request body, or @FILE to read it from a file")
	f.StringArrayVarP(&headers, "header", "H", nil, "extra request header 'Name: value' (repeatable)")
	f.BoolVarP(&include, "include", "i", false, "print the status line and headers before the body")
	f.StringVar(&aud, "aud", "", "the counterparty's audience for the key-binding JWT (default: the URL's origin)")
	f.StringVar(&nonceURL, "nonce-url", "", "GET a nonce here and present with the first request (default: present when asked)")
	f.StringArrayVar(&disclose, "disclose", nil, "JSON Pointer of a claim to disclose (repeatable; default every claim)")
	f.StringVar(&tag, "tag", "", "signature tag (default web-bot-auth)")
	f.StringVar(&sigAgent, "signature-agent", "", "Signature-Agent URL to send and sign (e.g. the issuer's origin)")
	f.DurationVar(&lifetime, "lifetime", time.Minute, "how long each signature is valid")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "overall timeout")
	return cmd
}
