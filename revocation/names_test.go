package revocation

import "testing"

func TestStatusNames(t *testing.T) {
	for v, want := range map[uint8]string{StatusValid: "valid", StatusRevoked: "revoked", StatusSuspended: "suspended", 3: "status_3", 255: "status_255"} {
		if got := StatusName(v); got != want {
			t.Errorf("StatusName(%d) = %q, want %q", v, got, want)
		}
		back, ok := ParseStatusName(want)
		if ok != (v <= StatusSuspended) || ok && back != v {
			t.Errorf("ParseStatusName(%q) = %d, %v", want, back, ok)
		}
	}
	if got := StatusNames(); got != "valid, revoked or suspended" {
		t.Errorf("StatusNames() = %q", got)
	}
}
