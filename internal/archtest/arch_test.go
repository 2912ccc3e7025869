package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/agentcert/agentcert/"

// forbidden lists, per core package, the packages it must not depend on,
// directly or not. (jwx's jwt package links net/http for its JWKS client,
// so packages that use jwx are not held to "no net/http";
// no core package registers handlers or a router.)
var forbidden = map[string][]string{
	"sdjwt":       {"database/sql", "github.com/gorilla/mux"},
	"did":         {"database/sql", "github.com/gorilla/mux"},
	"schemas":     {"net/http", "database/sql"}, // no JOSE, so no net/http either
	"revocation":  {"database/sql", "github.com/gorilla/mux"},
	"issuer":      {"database/sql", "github.com/gorilla/mux", "github.com/mattn/go-sqlite3", mod + "internal/store", mod + "server"},
	"approval":    {"database/sql", "github.com/gorilla/mux", mod + "internal/store", mod + "internal/records", mod + "issuer", mod + "verifier", mod + "server"},
	"receipt":     {"database/sql", "github.com/gorilla/mux", mod + "internal/store", mod + "internal/records", mod + "issuer", mod + "verifier", mod + "server"},
	"incident":    {"database/sql", "github.com/gorilla/mux", "github.com/mattn/go-sqlite3", mod + "internal/store", mod + "server"},
	"oid4vci":     {"database/sql", "github.com/gorilla/mux", "github.com/mattn/go-sqlite3", mod + "internal/store", mod + "server"},
	"oid4vp":      {"database/sql", "github.com/gorilla/mux", "github.com/mattn/go-sqlite3", mod + "internal/store", mod + "internal/records", mod + "issuer", mod + "server"},
	"oid4vp/dcql": {"net/http", "database/sql"}, // no JOSE either
	"verifier":    {"database/sql", "github.com/gorilla/mux", mod + "internal/store", mod + "internal/records", mod + "issuer", mod + "server"},
	// Request signatures: no store, no server, not even the verifier.
	"httpsig": {"database/sql", "github.com/gorilla/mux", mod + "internal/store", mod + "server", mod + "verifier", mod + "issuer"},
	// The auditor console: HTTP glue over the issuer's services, no storage code.
	"console": {"database/sql", "github.com/mattn/go-sqlite3", mod + "internal/store", mod + "server"},
	// The agent's client: no store, no server, no issuer.
	"agentclient": {"database/sql", "github.com/gorilla/mux", mod + "internal/store", mod + "server", mod + "issuer"},
	// The shared pieces below the core packages.
	"internal/jsonptr": {"net/http", "database/sql"},
	"internal/jose":    {"database/sql", "github.com/gorilla/mux"},
	"internal/tokens":  {"net/http", "database/sql", mod + "internal/store"},
	"internal/problem": {"database/sql", "github.com/gorilla/mux"},
	// Load shedding decides; server speaks HTTP.
	"internal/admission": {"net/http", "database/sql", mod + "server"},
	// The bench report's core reads and writes text; cmd/benchreport runs the tools.
	"internal/benchreport": {"net/http", "os/exec", "database/sql"},
}

// everywhere lists what no core package may depend on.
var everywhere = []string{"github.com/spf13/viper", "github.com/spf13/cobra", mod + "cmd/agentcert", mod + "internal/config"}

func TestCorePackagesPointDown(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	for pkg, deny := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		if !deps[mod+pkg] {
			t.Fatalf("go list printed no %s: %s", pkg, out)
		}
		for _, d := range append(deny, everywhere...) {
			if deps[d] {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
