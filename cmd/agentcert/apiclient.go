package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/problem"
	"github.com/spf13/cobra"
)

// Limits and defaults of the commands that talk to the API.
const (
	// apiTimeout bounds one call to the agentcert API.
	apiTimeout = 30 * time.Second
	// maxAPIResponse caps the body read from the agentcert API.
	maxAPIResponse = 1 << 20
	// defaultServer is the API the online commands talk to by default.
	defaultServer = "http://127.0.0.1:8080"
	// tokenEnv names the environment variable that can hold the API token.
	tokenEnv = "AGENTCERT_TOKEN"
)

// apiFlags are --server and --token of the commands that talk to a running
// agentcert's API.
type apiFlags struct {
	server string
	token  string
}

// add registers --server (default def; "" makes the command offline unless
// given) and --token.
func (a *apiFlags) add(cmd *cobra.Command, def, role string) {
	cmd.Flags().StringVar(&a.server, "server", def, "agentcert server URL")
	cmd.Flags().StringVar(&a.token, "token", "", "API bearer token, role "+role+" (default $"+tokenEnv+")")
}

// online reports whether --server was given (or defaults to a server).
func (a *apiFlags) online() bool { return a.server != "" }

// client checks the flags and returns a client; needToken makes a missing
// token a usage error.
func (a *apiFlags) client(needToken bool) (*apiClient, error) {
	base, err := apiBase(a.server)
	if err != nil {
		return nil, err
	}
	tok := a.token
	if tok == "" {
		tok = os.Getenv(tokenEnv)
	}
	if needToken && tok == "" {
		return nil, usageErr("--token (or $%s) is required", tokenEnv)
	}
	return &apiClient{base: base, token: tok}, nil
}

// call sends one request (body nil for none) through the flags' client and
// returns the answer of a want status. A failed call is reported as what
// (see apiFailed); bad flags are usage errors.
func (a *apiFlags) call(cmd *cobra.Command, what, method, path string, body []byte, want int, hdr ...string) ([]byte, error) {
	c, err := a.client(true)
	if err != nil {
		return nil, err
	}
	b, err := c.do(cmd.Context(), method, path, body, want, hdr...)
	if err != nil {
		return nil, apiFailed(cmd, what, err)
	}
	return b, nil
}

// callJSON is call with in encoded as the JSON body (nil for none) and the
// answer decoded into out (nil to drop it).
func (a *apiFlags) callJSON(cmd *cobra.Command, what, method, path string, in any, want int, out any) error {
	c, err := a.client(true)
	if err != nil {
		return err
	}
	if err := c.doJSON(cmd.Context(), method, path, in, want, out); err != nil {
		return apiFailed(cmd, what, err)
	}
	return nil
}

// print is call that prints the answer, indented.
func (a *apiFlags) print(cmd *cobra.Command, what, method, path string, body []byte, want int) error {
	b, err := a.call(cmd, what, method, path, body, want)
	if err != nil {
		return err
	}
	return printJSON(cmd, b)
}

// apiBase checks the --server URL and returns it without a trailing slash.
func apiBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", usageErr("--server %q is not an http(s) URL without query", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// apiClient calls one agentcert server.
type apiClient struct {
	base  string
	token string
}

// do sends method path with body (nil for none) and returns the answer's
// body when its status is want. Any other answer is an *errcode.Error with
// the problem's code (see problemError); an unreachable server is
// fetch_failed.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, want int, hdr ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "bad request URL")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "the server could not be reached")
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "reading the answer failed")
	}
	if len(b) > maxAPIResponse {
		return nil, errcode.New(errcode.FetchFailed, "the answer exceeds %d bytes", maxAPIResponse)
	}
	if resp.StatusCode != want {
		return nil, problemError(resp.StatusCode, b)
	}
	return b, nil
}

// problemError turns an error answer into an *errcode.Error carrying the
// problem's code and detail (RFC 9457), or fetch_failed when it is not a
// problem document.
func problemError(status int, body []byte) error {
	var p problem.Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Code == "" {
		return errcode.New(errcode.FetchFailed, "HTTP %d %s", status, http.StatusText(status))
	}
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	return errcode.New(p.Code, "HTTP %d: %s", status, strings.Join(strings.Fields(detail), " "))
}

// doJSON is do that decodes a JSON answer into out.
func (c *apiClient) doJSON(ctx context.Context, method, path string, in any, want int, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	b, err := c.do(ctx, method, path, body, want)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errcode.Wrap(errcode.FetchFailed, err, "the server's answer is not the JSON expected")
	}
	return nil
}

// indentJSON pretty-prints a JSON answer, with a final newline.
func indentJSON(b []byte) ([]byte, error) {
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(b), "", "  "); err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "the server's answer is not JSON")
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// printJSON writes a JSON answer to stdout, indented.
func printJSON(cmd *cobra.Command, b []byte) error {
	pretty, err := indentJSON(b)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(pretty)
	return err
}

// limitParam sets the list parameter limit (1-1000) when --limit was given.
func limitParam(cmd *cobra.Command, q url.Values, limit int) error {
	if !cmd.Flags().Changed("limit") {
		return nil
	}
	if limit < 1 || limit > 1000 {
		return usageErr("--limit must be between 1 and 1000")
	}
	q.Set("limit", strconv.Itoa(limit))
	return nil
}

// getList fetches one page of a list (GET path?q). With asJSON it prints
// the server's answer and returns printed; otherwise it decodes the answer
// into page. what names the command in errors.
func getList(cmd *cobra.Command, api *apiFlags, what, path string, q url.Values, asJSON bool, page any) (printed bool, err error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	b, err := api.call(cmd, what, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return false, err
	}
	if asJSON {
		return true, printJSON(cmd, b)
	}
	if err := json.Unmarshal(b, page); err != nil {
		return false, apiFailed(cmd, what, fmt.Errorf("the answer is not the list expected: %w", err))
	}
	return false, nil
}

// apiFailed reports a failed API call on stderr and returns exit 1: the
// command was well formed, the server said no (or could not be reached).
func apiFailed(cmd *cobra.Command, what string, err error) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: %s: %s\n", what, oneLine(err))
	return &exitError{code: exitNotVerified, err: err}
}

// trimmed is s without surrounding space, or a usage error naming what when
// that leaves nothing.
func trimmed(s, what string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", usageErr("%s is empty", what)
	}
	return strings.TrimSpace(s), nil
}

// requireFlags is a usage error naming exactly the flags among names that
// were left empty, or nil when all have a value.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && f.Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return usageErr("%s is required", missing[0])
	}
	return usageErr("%s are required", strings.Join(missing, ", "))
}
