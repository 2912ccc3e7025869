package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentcert/agentcert/internal/apiwire"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/spf13/cobra"
)

// The everyday online commands: credentials issue|get|list and audit list,
// each a thin client of the HTTP API, so that nobody hand-writes curl.

// statusValues are the credential states, for --status and its completion.
var statusValues = []string{"valid", "revoked", "suspended"}

func newCredentialsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "credentials", Short: "Issue, read and list credentials on a running server"}
	cmd.AddCommand(newCredentialsIssueCmd(), newCredentialsGetCmd(), newCredentialsListCmd())
	return cmd
}

func newCredentialsIssueCmd() *cobra.Command {
	var api apiFlags
	var reqFile, out, idem string
	cmd := &cobra.Command{
		Use:   "issue --request FILE [--out FILE] [--idempotency-key K] [--server URL] [--token ISSUER_TOKEN]",
		Short: "Issue a certification (POST /v1/credentials); prints the answer, or with --out writes the credential and prints its id",
		Long: "Issue a certification through POST /v1/credentials. FILE holds the request JSON\n" +
			"({\"subject\": DID, \"claims\": {...}}, see docs/walkthrough.md); - reads stdin.\n" +
			"Without --out the JSON answer is printed; with --out the SD-JWT VC is written to that file\n" +
			"(mode 0600) and only the credential's id is printed. A retry with the same --idempotency-key\n" +
			"and request returns the first answer.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reqFile == "" {
				return usageErr("--request is required")
			}
			body, err := readInput(cmd, reqFile)
			if err != nil {
				return err
			}
			if !json.Valid(body) {
				return usageErr("--request %s is not JSON", reqFile)
			}
			var hdr []string
			if idem != "" {
				hdr = []string{"Idempotency-Key", idem}
			}
			b, err := api.call(cmd, "credentials issue", http.MethodPost, "/v1/credentials", body, http.StatusCreated, hdr...)
			if err != nil {
				return err
			}
			if out == "" {
				return printJSON(cmd, b)
			}
			var issued struct {
				ID         string `json:"id"`
				Credential string `json:"credential"`
			}
			if err := json.Unmarshal(b, &issued); err != nil || issued.Credential == "" {
				return apiFailed(cmd, "credentials issue", fmt.Errorf("the answer holds no credential"))
			}
			if err := keyutil.WriteNewFile(out, []byte(issued.Credential+"\n")); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), issued.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&reqFile, "request", "", "request JSON file (- for stdin)")
	cmd.Flags().StringVar(&out, "out", "", "write the credential (SD-JWT VC) to this new file and print only its id")
	cmd.Flags().StringVar(&idem, "idempotency-key", "", "Idempotency-Key header: a retry returns the first answer")
	api.add(cmd, defaultServer, "issuer")
	return cmd
}

func newCredentialsGetCmd() *cobra.Command {
	var api apiFlags
	cmd := &cobra.Command{
		Use:   "get ID [--server URL] [--token T]",
		Short: "Print a credential's record (GET /v1/credentials/{id}); issuer tokens see the ones they issued",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := trimmed(args[0], "the credential ID")
			if err != nil {
				return err
			}
			return api.print(cmd, "credentials get", http.MethodGet, "/v1/credentials/"+url.PathEscape(id), nil, http.StatusOK)
		},
	}
	api.add(cmd, defaultServer, "issuer or auditor")
	return cmd
}

// credentialRow is the part of a credential record the list prints.
type credentialRow struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Principal string    `json:"principal_id"`
}

func newCredentialsListCmd() *cobra.Command {
	var api apiFlags
	var subject, principal, agentClass, status, before, cursor string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--subject DID] [--principal ID] [--agent-class C] [--status S] [--issued-before T] [--limit N] [--cursor C] [--json] [--server URL] [--token AUDITOR_TOKEN]",
		Short: "List credential records (GET /v1/credentials, auditors): id, status, subject, principal, issued, expires",
		Long: "List credential records, newest page first as the server orders them. Without --json one line\n" +
			"per credential (tab-separated: id, status, subject, principal, issued, expires), then\n" +
			"\"next: CURSOR\" on stderr when there is another page (pass it as --cursor).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := apiwire.Query(map[string]string{"subject": subject, "principal_id": principal, "agent_class": agentClass, "status": status, "issued_before": before, "cursor": cursor})
			if status != "" && !contains(statusValues, status) {
				return usageErr("--status must be one of %s", strings.Join(statusValues, ", "))
			}
			if before != "" {
				if _, err := time.Parse(time.RFC3339, before); err != nil {
					return usageErr("--issued-before must be an RFC 3339 time (2026-01-02T15:04:05Z)")
				}
			}
			if err := limitParam(cmd, q, limit); err != nil {
				return err
			}
			var page struct {
				Credentials []credentialRow `json:"credentials"`
				NextCursor  string          `json:"next_cursor"`
			}
			if printed, err := getList(cmd, &api, "credentials list", "/v1/credentials", q, asJSON, &page); printed || err != nil {
				return err
			}
			return printPage(cmd, page.NextCursor, func(tw io.Writer) {
				for _, r := range page.Credentials {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Subject, dash(r.Principal), r.IssuedAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&subject, "subject", "", "only credentials for this agent DID")
	f.StringVar(&principal, "principal", "", "only credentials of this principal id")
	f.StringVar(&agentClass, "agent-class", "", "only credentials of this agent class")
	f.StringVar(&status, "status", "", "valid, revoked or suspended")
	f.StringVar(&before, "issued-before", "", "only credentials issued before this RFC 3339 time")
	f.IntVar(&limit, "limit", 100, "page size (1-1000)")
	f.StringVar(&cursor, "cursor", "", "the next page's cursor, as printed by the previous page")
	f.BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(statusValues, cobra.ShellCompDirectiveNoFileComp))
	api.add(cmd, defaultServer, "auditor")
	return cmd
}

// newAuditListCmd is audit list: GET /v1/audit.
func newAuditListCmd() *cobra.Command {
	var api apiFlags
	var actor, action, target, since, until string
	var cursor int64
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--action A] [--actor TOKEN_ID] [--target ID] [--since T] [--until T] [--limit N] [--cursor SEQ] [--json] [--server URL] [--token AUDITOR_TOKEN]",
		Short: "List audit log entries (GET /v1/audit, auditors): seq, time, actor, action, target, details",
		Long: "List audit log entries, oldest first. Without --json one line per entry (tab-separated: seq,\n" +
			"time, actor, action, target, details), then \"next: SEQ\" on stderr when there is another page.\n" +
			"`agentcert audit verify` checks the log's hash chain.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := apiwire.Query(map[string]string{"actor": actor, "action": action, "target": target, "since": since, "until": until})
			for name, v := range map[string]string{"since": since, "until": until} {
				if v != "" {
					if _, err := time.Parse(time.RFC3339, v); err != nil {
						return usageErr("--%s must be an RFC 3339 time (2026-01-02T15:04:05Z)", name)
					}
				}
			}
			if err := limitParam(cmd, q, limit); err != nil {
				return err
			}
			if cmd.Flags().Changed("cursor") {
				if cursor < 0 {
					return usageErr("--cursor must be a sequence number")
				}
				q.Set("cursor", strconv.FormatInt(cursor, 10))
			}
			var page apiwire.AuditPage
			if printed, err := getList(cmd, &api, "audit list", "/v1/audit", q, asJSON, &page); printed || err != nil {
				return err
			}
			return printPage(cmd, page.NextCursor, func(tw io.Writer) {
				for _, e := range page.Entries {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), dash(e.Actor), e.Action, dash(e.Target), compactJSON(e.Details))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&action, "action", "", "only this action (credential.issue, credential.revoke, token.create, key.rotate, ...)")
	f.StringVar(&actor, "actor", "", "only entries of this actor (a token id, cli or system)")
	f.StringVar(&target, "target", "", "only entries about this credential, token or key")
	f.StringVar(&since, "since", "", "entries at or after this RFC 3339 time")
	f.StringVar(&until, "until", "", "entries before this RFC 3339 time")
	f.IntVar(&limit, "limit", 100, "page size (1-1000)")
	f.Int64Var(&cursor, "cursor", 0, "continue after this sequence number")
	f.BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	api.add(cmd, defaultServer, "auditor")
	return cmd
}

// printPage prints one page of a list as tab-aligned rows (written by rows),
// then "next: CURSOR" on stderr when there is another page.
func printPage(cmd *cobra.Command, next string, rows func(w io.Writer)) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	rows(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "next: %s\n", next)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func compactJSON(b json.RawMessage) string {
	if len(b) == 0 {
		return "{}"
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return string(b)
	}
	return out.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readInput reads a file, or stdin for "-".
func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxAPIResponse+1))
		if err != nil {
			return nil, usageErr("read stdin: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return b, nil
}
