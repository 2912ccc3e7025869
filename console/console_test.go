package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/tokens"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/credentials?x=1":        "/console/credentials?x=1",
		"https://evil.example":            "",
		"//evil.example/console":          "",
		"/consolex":                       "/consolex",
		"/console\\@evil":                 "",
		"/v1/audit":                       "",
		"":                                "",
		"/console/../v1/admin/tokens":     "",
		"/console/%2e%2e/v1/admin/tokens": "",
		"/console/%2E%2E/v1/audit":        "",
		"/console/./credentials":          "",
		"/console/credentials/..":         "",
		"/console/credentials?next=../x":  "/console/credentials?next=../x",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTemplatesEscapeClaims renders every page that shows stored values
// with hostile ones: nothing comes out as markup.
func TestTemplatesEscapeClaims(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	evil := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	now := time.Now()
	cr := records.Credential{ID: "urn:uuid:" + evil, Subject: evil, PrincipalID: evil, AgentClass: evil, VCT: evil, StatusReason: evil, StatusIncident: evil, StatusNote: evil, StatusChangedAt: &now}
	entry := readHistory(records.AuditEntry{Seq: 1, Actor: evil, Action: "credential.issue", Target: cr.ID, Details: []byte(`{"subject":"` + strings.ReplaceAll(evil, `"`, `\"`) + `"}`)})
	s := &session{TokenID: evil, Role: tokens.RoleAuditor, Name: evil, csrf: evil}
	for name, data := range map[string]any{
		"credential":  &credentialData{C: cr, StatusURI: "javascript:alert(3)", Issued: &entry, Changes: []historyEntry{entry}, Entries: []historyEntry{entry}, Form: statusForm{Note: evil}},
		"credentials": &credentialsData{Form: searchForm{Subject: evil}, Rows: []records.Credential{cr}},
		"bulk":        &bulkData{Form: bulkForm{Action: "revoke", Principal: evil, Note: evil}, Preview: &bulkPreview{Count: 1, Sample: []records.Credential{cr}}},
		"audit":       &auditData{Form: auditForm{Actor: evil}, Rows: []historyEntry{entry}},
	} {
		var buf bytes.Buffer
		if err := pages[name].Execute(&buf, view{Title: evil, Session: s, CSRF: evil, Error: evil, Notice: evil, Data: data}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := buf.String()
		for _, bad := range []string{"<script>", "<img", `"javascript:`} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: output contains %q", name, bad)
			}
		}
		if !strings.Contains(out, "&lt;script&gt;") {
			t.Errorf("%s: the hostile value is not shown escaped", name)
		}
	}
}

func TestDayChart(t *testing.T) {
	days := []string{"2026-01-01", "2026-01-02", "2026-01-03"}
	ch := dayChart("t", "c", days, map[string]int{"2026-01-02": 4, "2026-01-03": 1})
	if ch.Empty || len(ch.Bars) != 3 || ch.TotalCaption != "5 in 3 days" {
		t.Fatalf("chart %+v", ch)
	}
	if ch.Bars[0].H != 0 || ch.Bars[1].H != dayChartH-dayChartTop-dayChartBottom || ch.Bars[2].H*4 != ch.Bars[1].H {
		t.Errorf("bar heights %v %v %v", ch.Bars[0].H, ch.Bars[1].H, ch.Bars[2].H)
	}
	if !dayChart("t", "c", days, nil).Empty {
		t.Error("an all-zero chart is not empty")
	}
	h := hbarChart("f", []hbarRowData{{Label: "L", Value: 1, Max: 4, Text: "1 of 4"}})
	if h.Bars[0].W*4 != hbarW-hbarLabelW-90 {
		t.Errorf("fill bar width %v", h.Bars[0].W)
	}
}
