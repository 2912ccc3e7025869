package store_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/agentcert/agentcert/internal/store"
)

func TestReadMigrations(t *testing.T) {
	ok := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
		"m/README":     {Data: []byte("not a migration")},
	}
	ms, err := store.ReadMigrations(ok, "m")
	if err != nil || len(ms) != 2 || ms[0].Name != "0001_a.sql" || ms[0].SQL != "A" || ms[1].Version != 2 {
		t.Fatalf("ReadMigrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"must be NNNN_name.sql": {"m/init.sql": {}},
		"zero version":          {"m/0000_x.sql": {}},
		"share version":         {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		_, err := store.ReadMigrations(fsys, "m")
		if err == nil || (name != "zero version" && !strings.Contains(err.Error(), name)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
