package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// TestOperationsBackupRestore runs the shell block of docs/operations.md's
// "Backup and restore" section as written (only the port is changed): a
// backup while the server serves, the directory lost, a restore, the same
// issuer and tokens back.
func TestOperationsBackupRestore(t *testing.T) {
	script := strings.ReplaceAll(shellBlock(t, "../../docs/operations.md", "## Backup and restore\n"), "127.0.0.1:8095", "127.0.0.1:8090")
	_, out, err := runShellDoc(t, script)
	if err != nil {
		t.Fatalf("backup and restore failed: %v\n%s", err, out)
	}
	o := string(out)
	for _, want := range []string{"backup written: agentcert-backup.db", "restored ", "chain intact", "audit log intact", "\tauditor\tnight-shift\t", "\tadmin\tbootstrap\t"} {
		if !strings.Contains(o, want) {
			t.Errorf("backup and restore output lacks %q:\n%s", want, o)
		}
	}
	// Everything the restore needs is put back: no file is reported missing.
	if strings.Contains(o, "warning:") {
		t.Errorf("the restore warns:\n%s", o)
	}
}

// TestPackaging checks the shipped packaging against the code: the
// license, the Dockerfile's stages, user, health check and paths, the
// Compose services and their configs, and the systemd unit.
func TestPackaging(t *testing.T) {
	root := "../.."
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("license", func(t *testing.T) {
		l := read("LICENSE")
		for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"} {
			if !strings.Contains(l, want) {
				t.Errorf("LICENSE lacks %q", want)
			}
		}
	})
	t.Run("dockerfile", func(t *testing.T) {
		d := read("Dockerfile")
		froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(d, -1)
		if len(froms) < 2 {
			t.Fatalf("the Dockerfile has %d stages, want a build and a runtime stage", len(froms))
		}
		goMod := read("go.mod")
		gv := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
		if gv == nil || !strings.HasPrefix(froms[0][1], "golang:"+gv[1]) {
			t.Errorf("build stage %s does not match go.mod's go %v", froms[0][1], gv)
		}
		final := d[strings.LastIndex(d, "\nFROM "):]
		if u := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final); u == nil || strings.HasPrefix(u[1], "0") || strings.HasPrefix(u[1], "root") {
			t.Errorf("the runtime stage runs as %v, want an unprivileged user", u)
		}
		if !regexp.MustCompile(`(?m)^ENV AGENTCERT_LISTEN=0\.0\.0\.0:8080$`).MatchString(final) {
			t.Error("the runtime stage does not listen on the container network (ENV AGENTCERT_LISTEN=0.0.0.0:8080): the shipped issuer.yaml listens on loopback")
		}
		if !strings.Contains(final, `HEALTHCHECK`) || !strings.Contains(final, `"healthcheck", "--url", "http://127.0.0.1:8080/readyz"`) {
			t.Error("the runtime stage has no health check by the binary")
		}
		for _, src := range regexp.MustCompile(`(?m)^COPY (?:--\S+ )*(\S+) `).FindAllStringSubmatch(d, -1) {
			if strings.HasPrefix(src[1], "/") || src[1] == "." || strings.Contains(src[1], " ") {
				continue
			}
			for _, f := range strings.Fields(src[1]) {
				if _, err := os.Stat(filepath.Join(root, f)); err != nil {
					t.Errorf("the Dockerfile copies %s, which does not exist", f)
				}
			}
		}
		cmd := regexp.MustCompile(`(?m)^CMD \["serve", "--config", "(/etc/agentcert/\S+)"\]`).FindStringSubmatch(d)
		if cmd == nil {
			t.Fatal("the default command does not serve a config")
		}
		src := regexp.MustCompile(`(?m)^COPY (configs/\S+) ` + regexp.QuoteMeta(cmd[1]) + `$`).FindStringSubmatch(d)
		if src == nil {
			t.Fatalf("the default config %s is not copied from configs/", cmd[1])
		}
		if _, err := os.Stat(filepath.Join(root, src[1])); err != nil {
			t.Errorf("the default config %s does not exist", src[1])
		}
	})
	t.Run("compose", func(t *testing.T) {
		// The image has no curl and no shell: every agentcert service's
		// health check is the binary's own probe (TestComposeFile checks
		// the services and their configs).
		var c struct {
			Services map[string]struct {
				Build       any `yaml:"build"`
				Healthcheck *struct {
					Test []string `yaml:"test"`
				} `yaml:"healthcheck"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal([]byte(read("docker-compose.yaml")), &c); err != nil {
			t.Fatalf("docker-compose.yaml: %v", err)
		}
		n := 0
		for name, svc := range c.Services {
			if svc.Build == nil {
				continue
			}
			n++
			if svc.Healthcheck == nil || len(svc.Healthcheck.Test) < 3 || svc.Healthcheck.Test[1] != "/usr/local/bin/agentcert" || svc.Healthcheck.Test[2] != "healthcheck" {
				t.Errorf("service %s: health check %+v, want agentcert healthcheck", name, svc.Healthcheck)
			}
		}
		if n < 2 {
			t.Errorf("docker-compose.yaml builds %d agentcert services, want an issuer and a verifier replica", n)
		}
	})
	t.Run("systemd", func(t *testing.T) {
		unit := read("deploy/agentcert.service")
		kv := map[string][]string{}
		sc := bufio.NewScanner(strings.NewReader(unit))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
				kv[k] = append(kv[k], v)
			}
		}
		start := strings.Fields(kv["ExecStart"][0])
		if strings.Join(start, " ") != "/usr/local/bin/agentcert serve --config /etc/agentcert/issuer.yaml" {
			t.Fatalf("ExecStart %v", start)
		}
		// The flags it uses exist.
		mustRun(t, t.TempDir(), "serve", "--config", "x", "--help")
		cmd := &cobra.Command{}
		cmd.Flags().String("config", filepath.Join(root, "configs/issuer.yaml"), "")
		cfg, err := loadConfig(cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := "/var/lib/" + kv["StateDirectory"][0]; got != cfg.DataDir {
			t.Errorf("StateDirectory %s is not configs/issuer.yaml's data_dir %s", got, cfg.DataDir)
		}
		stop, err := time.ParseDuration(kv["TimeoutStopSec"][0])
		if err != nil || stop <= cfg.HTTP.ShutdownTimeout {
			t.Errorf("TimeoutStopSec %v must exceed http.shutdown_timeout %s", kv["TimeoutStopSec"], cfg.HTTP.ShutdownTimeout)
		}
		if kv["RestartPreventExitStatus"][0] != strconv.Itoa(exitUsage) {
			t.Errorf("RestartPreventExitStatus %v, want the configuration exit code %d", kv["RestartPreventExitStatus"], exitUsage)
		}
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Log("systemd-analyze is not installed: the unit's syntax was not checked by systemd")
			return
		}
		// systemd-analyze checks the unit, with the binary it names made real.
		dir := t.TempDir()
		f := filepath.Join(dir, "agentcert.service")
		write(t, f, strings.ReplaceAll(unit, "/usr/local/bin/agentcert", binPath))
		out, err := osexec(analyze, "verify", f)
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}

func osexec(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// TestHealthcheckCommand: the image's health check probe.
func TestHealthcheckCommand(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	if out := mustRun(t, dir, "healthcheck", "--url", ts.URL+"/readyz"); out != "ready" {
		t.Fatalf("healthcheck: %q", out)
	}
	port, _ := freePort()
	if _, errOut, code := run(t, dir, "healthcheck", "--url", fmt.Sprintf("http://127.0.0.1:%d/readyz", port)); code != 1 || !strings.Contains(errOut, "healthcheck:") {
		t.Fatalf("healthcheck of a closed port: exit %d %q", code, errOut)
	}
	if _, errOut, code := run(t, dir, "healthcheck", "--url", ts.URL+"/nope"); code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("healthcheck of a 404: exit %d %q", code, errOut)
	}
	if _, _, code := run(t, dir, "healthcheck", "--url", "ftp://x"); code != 2 {
		t.Fatalf("healthcheck with a bad URL: exit %d", code)
	}
}

// TestDockerImage builds the Dockerfile and runs the image when a working
// container engine is present (CI); on a machine without one it says so
// and skips.
func TestDockerImage(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("SKIP: no docker CLI on this machine; the Dockerfile is built where a container engine is present")
	}
	if out, err := exec.Command(docker, "info").CombinedOutput(); err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		fmt.Printf("SKIP TestDockerImage: `docker info` failed (%v: %s): no working container engine, the Dockerfile was not built\n", err, first)
		t.Skipf("no working container engine (`docker info`: %v); the Dockerfile was not built", err)
	}
	tag := "agentcert-test:" + randomHex(4)
	if out, err := osexec(docker, "build", "-t", tag, "../.."); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = osexec(docker, "rmi", "-f", tag) })
	port, _ := freePort()
	name := "agentcert-test-" + randomHex(4)
	out, err := osexec(docker, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port),
		"-e", "AGENTCERT_KEY_ENCRYPTION_KEY=CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
		"-e", "AGENTCERT_PUBLIC_URL=https://issuer.example.com", tag)
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = osexec(docker, "rm", "-f", name) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		state, _ := osexec(docker, "inspect", "-f", "{{.State.Health.Status}} {{.Config.User}}", name)
		if strings.HasPrefix(state, "healthy") {
			if strings.Contains(state, " 0") || strings.Contains(state, "root") {
				t.Fatalf("the container runs as %q", state)
			}
			break
		}
		if time.Now().After(deadline) {
			logs, _ := osexec(docker, "logs", name)
			t.Fatalf("the container did not become healthy (%s):\n%s", state, logs)
		}
		time.Sleep(time.Second)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/.well-known/did.json", port))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("did.json from the container: %v %v", err, resp)
	}
	resp.Body.Close()
}
