package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newRootCmd builds the command tree. The root command is the only global
// state of the program, and it lives in main's stack.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "agentcert",
		Short:         "Verifiable credentials for AI agents: issue, present, verify, revoke",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().String("config", "", "config file (YAML); defaults are the embedded dev settings")
	root.AddCommand(newServeCmd(), newDIDCmd(), newIssueCmd(), newPresentCmd(), newDelegateCmd(), newVerifyCmd(), newDemoCmd(), newRequestCmd(), newTokenCmd(), newKeysCmd(), newAuditCmd(), newStatusCmd(), newWalletCmd(),
		newCredentialsCmd(), newInspectCmd(), newVersionCmd(), newBackupCmd(), newRestoreCmd(), newHealthcheckCmd())
	root.AddCommand(newReceiptCmd(), newReceiptsCmd(), newIncidentsCmd(), newApproveCmd())
	root.AddCommand(newStatusChangeCmds()...)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	return root
}

// loadConfig builds the typed config: defaults < file < AGENTCERT_* env <
// the flags named in bind (config key -> flag name) that the user set.
func loadConfig(cmd *cobra.Command, bind map[string]string) (config.Config, error) {
	v := viper.New()
	setDefaults(v, "", reflect.ValueOf(config.Default()))
	v.SetEnvPrefix("AGENTCERT")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if file, _ := cmd.Flags().GetString("config"); file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return config.Config{}, usageErr("read config %s: %w", file, err)
		}
	}
	for key, flag := range bind {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return config.Config{}, usageErr("flag --%s: %w", flag, err)
			}
		}
	}
	var cfg config.Config
	if err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.StringToSliceHookFunc(",")))); err != nil {
		// mapstructure lists its errors after a header, one a line.
		msg := err.Error()
		if _, rest, ok := strings.Cut(msg, "\n\n"); ok {
			msg = strings.Join(strings.Fields(strings.ReplaceAll(rest, "\n", "; ")), " ")
		}
		return config.Config{}, usageErr("config: %s", msg)
	}
	cfg.DerivePublicURL()
	if err := cfg.Validate(); err != nil {
		return config.Config{}, usageErr("%w", err)
	}
	return cfg, nil
}

// setDefaults registers every leaf of the default config with viper, so that
// the environment can override any key and UnmarshalExact knows them all.
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("mapstructure")
		if prefix != "" {
			key = prefix + "." + key
		}
		f := val.Field(i)
		if f.Kind() == reflect.Struct && f.Type().PkgPath() != "time" {
			setDefaults(v, key, f)
			continue
		}
		v.SetDefault(key, f.Interface())
	}
}

// durationHook decodes durations and names a bad value with the form
// expected (the default hook says only "invalid duration").
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) || from.Kind() != reflect.String {
		return data, nil
	}
	s := data.(string)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration (use a number with a unit: 30s, 5m, 24h)", s)
	}
	return d, nil
}

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}
