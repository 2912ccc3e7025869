package store_test

import (
	"path/filepath"
	"testing"

	"github.com/agentcert/agentcert/internal/store/storetest"
)

func TestIncidentContract(t *testing.T) {
	storetest.RunIncidents(t, func(t *testing.T) storetest.IncidentStore {
		return openAt(t, filepath.Join(t.TempDir(), "issuer.db"))
	})
}
