package apiwire

import "testing"

func TestQueryKeepsOnlySetFilters(t *testing.T) {
	q := Query(map[string]string{"subject": "did:key:z6Mk", "status": "", "cursor": "a b&c"})
	if got := q.Encode(); got != "cursor=a+b%26c&subject=did%3Akey%3Az6Mk" {
		t.Errorf("Query = %q", got)
	}
	if _, ok := q["status"]; ok {
		t.Error("an empty filter is in the query")
	}
	if len(Query(nil)) != 0 || len(Query(map[string]string{"a": ""})) != 0 {
		t.Error("no filters set, yet a query")
	}
}
