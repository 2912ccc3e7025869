package jsonval

import (
	"encoding/json"
	"testing"
)

func TestIsPlain(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{"decoded", map[string]any{"a": []any{json.Number("1"), "x", true, nil, map[string]any{}}}, true},
		{"int", map[string]any{"iat": 1}, false},
		{"float", map[string]any{"n": 1.5}, false},
		{"typed map", map[string]any{"m": map[string]string{"a": "b"}}, false},
		{"bad UTF-8 value", map[string]any{"s": "\xff"}, false},
		{"bad UTF-8 name", map[string]any{"\xff": "s"}, false},
		{"too deep", map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{}}}}, false},
	} {
		if got := IsPlain(tc.v, 3); got != tc.want {
			t.Errorf("%s: IsPlain = %v, want %v", tc.name, got, tc.want)
		}
	}
}
