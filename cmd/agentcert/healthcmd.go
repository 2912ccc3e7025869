package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is `agentcert healthcheck`: a probe for container
// health checks, where the runtime image has no curl and no shell.
func newHealthcheckCmd() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL] [--timeout D]",
		Short: "Probe a running server's /readyz (exit 0 ready, 1 not ready or unreachable)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageErr("--url %q is not an http(s) URL", target)
			}
			if timeout <= 0 {
				return usageErr("--timeout must be a positive duration")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return usageErr("--url: %v", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: healthcheck: %v\n", err)
				return &exitError{code: exitNotVerified, err: err}
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			if resp.StatusCode != http.StatusOK {
				err := fmt.Errorf("%s answered %s", target, resp.Status)
				fmt.Fprintf(cmd.ErrOrStderr(), "agentcert: healthcheck: %v\n", err)
				return &exitError{code: exitNotVerified, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "http://127.0.0.1:8080/readyz", "the URL to probe")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait")
	return cmd
}
