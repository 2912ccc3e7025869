package approval

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

func TestLinkRoundTrip(t *testing.T) {
	req, err := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	link, err := Link(req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "agentcert-approval:?request=") || !IsLink("  "+link) {
		t.Fatalf("link %q", link)
	}
	got, err := ParseLink(link)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(req)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("round trip changed the request:\n%s\n%s", a, b)
	}
}

func TestParseLinkRefusals(t *testing.T) {
	req, _ := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, time.Unix(1_800_000_000, 0))
	b, _ := json.Marshal(req)
	enc := base64.RawURLEncoding.EncodeToString(b)
	// The same request with another amount but the first digest: what an
	// approver would be shown is not what it would sign.
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["params"].(map[string]any)["amount"] = 900
	swapped, _ := json.Marshal(m)
	for _, c := range []struct {
		name, link string
		code       errcode.Code
	}{
		{"other scheme", "https://example.com/?request=" + enc, errcode.InvalidInput},
		{"opaque", "agentcert-approval:" + enc, errcode.InvalidInput},
		{"no request", "agentcert-approval:?x=1", errcode.InvalidInput},
		{"two requests", "agentcert-approval:?request=" + enc + "&request=" + enc, errcode.InvalidInput},
		{"extra parameter", "agentcert-approval:?request=" + enc + "&x=1", errcode.InvalidInput},
		{"not base64url", "agentcert-approval:?request=%2B%2F%3D", errcode.InvalidInput},
		{"not JSON", "agentcert-approval:?request=" + base64.RawURLEncoding.EncodeToString([]byte("hello")), errcode.InvalidInput},
		{"parameter substituted", "agentcert-approval:?request=" + base64.RawURLEncoding.EncodeToString(swapped), errcode.ApprovalDigestMismatch},
		{"too large", "agentcert-approval:?request=" + strings.Repeat("A", 2*MaxRequestSize), errcode.TooLarge},
	} {
		if _, err := ParseLink(c.link); errcode.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if IsLink("ask.json") {
		t.Error("a file name taken for a link")
	}
}

func FuzzParseLink(f *testing.F) {
	req, _ := NewRequest("payments:initiate", pay(250), aud, principal, agent, time.Minute, time.Unix(1_800_000_000, 0))
	link, _ := Link(req)
	f.Add(link)
	f.Add("agentcert-approval:?request=")
	f.Add("agentcert-approval:?request=e30")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseLink(in)
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("internal error for client input: %v", err)
			}
			return
		}
		again, err := Link(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseLink(again); err != nil {
			t.Fatalf("a parsed link does not parse again: %v", err)
		}
	})
}
