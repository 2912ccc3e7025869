package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/apiwire"
	"github.com/spf13/cobra"
)

// newIncidentsCmd returns incidents list|show|resolve, which talk to the
// API with an auditor token. Exit codes: 0 on success, 1 when the server
// answered an error (its code on stderr) or could not be reached, 2 on a
// usage error.
func newIncidentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "incidents", Short: "List, show and resolve incident reports (auditor token)"}
	var api apiFlags
	call := func(c *cobra.Command, what, method, path string, body []byte) error {
		return api.print(c, "incidents "+what, method, path, body, http.StatusOK)
	}

	var credential, principal, state, cursor string
	var limit int
	list := &cobra.Command{
		Use:   "list [--credential ID] [--principal ID] [--state open|resolved] [--limit N] [--cursor C]",
		Short: "List incidents in order of creation",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if state != "" && state != "open" && state != "resolved" {
				return usageErr("--state must be open or resolved")
			}
			q := apiwire.Query(map[string]string{"credential_id": credential, "principal_id": principal, "state": state, "cursor": cursor})
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			endpoint := "/v1/incidents"
			if len(q) > 0 {
				endpoint += "?" + q.Encode()
			}
			return call(c, "list", http.MethodGet, endpoint, nil)
		},
	}
	list.Flags().StringVar(&credential, "credential", "", "only incidents about this credential id")
	list.Flags().StringVar(&principal, "principal", "", "only incidents about this principal id")
	list.Flags().StringVar(&state, "state", "", "open or resolved")
	list.Flags().IntVar(&limit, "limit", 0, "page size")
	list.Flags().StringVar(&cursor, "cursor", "", "the next_cursor of the previous page")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Print one incident",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, "show", http.MethodGet, "/v1/incidents/"+url.PathEscape(args[0]), nil)
		},
	}

	var decision, note string
	resolve := &cobra.Command{
		Use:   "resolve ID --decision suspend|revoke|dismiss [--note TEXT]",
		Short: "Resolve an incident; suspend and revoke change the credential's status with the incident as reference",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if !slices.Contains(incident.Decisions, decision) {
				return usageErr("--decision must be one of %s", strings.Join(incident.Decisions, ", "))
			}
			body, err := json.Marshal(incident.Resolution{Decision: decision, Note: note})
			if err != nil {
				return err
			}
			return call(c, "resolve", http.MethodPost, "/v1/incidents/"+url.PathEscape(args[0])+"/resolve", body)
		},
	}
	resolve.Flags().StringVar(&decision, "decision", "", "suspend, revoke or dismiss (required)")
	resolve.Flags().StringVar(&note, "note", "", "a note for the record and the audit log")

	for _, sub := range []*cobra.Command{list, show, resolve} {
		api.add(sub, defaultServer, "auditor")
		cmd.AddCommand(sub)
	}
	return cmd
}
