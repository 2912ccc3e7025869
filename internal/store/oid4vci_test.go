package store_test

import (
	"path/filepath"
	"testing"

	"github.com/agentcert/agentcert/internal/store/storetest"
)

func TestOID4VCIContract(t *testing.T) {
	storetest.RunOID4VCI(t, func(t *testing.T) storetest.OID4VCIStore {
		return openAt(t, filepath.Join(t.TempDir(), "issuer.db"))
	})
}
