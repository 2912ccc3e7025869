package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildInfo is what the binary knows about its own build.
type buildInfo struct {
	Version   string `json:"version"`    // module version: a tag, a pseudo-version or (devel)
	Commit    string `json:"commit"`     // VCS revision, "-dirty" when built from modified files
	BuildDate string `json:"build_date"` // the commit's time as the build recorded it (RFC 3339)
	Go        string `json:"go"`
}

// readBuildInfo reads the build info embedded by the Go toolchain; fields
// it lacks (a build outside a VCS checkout) are "unknown".
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: "unknown", Commit: "unknown", BuildDate: "unknown", Go: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.Go = info.GoVersion
	if info.Main.Version != "" {
		bi.Version = info.Main.Version
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.time":
			bi.BuildDate = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && bi.Commit != "unknown" {
		bi.Commit += "-dirty"
	}
	return bi
}

func (b buildInfo) String() string {
	return fmt.Sprintf("agentcert %s (commit %s, built %s, %s)", b.Version, b.Commit, b.BuildDate, b.Go)
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := readBuildInfo()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(bi)
			}
			fmt.Fprintln(cmd.OutOrStdout(), bi)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
