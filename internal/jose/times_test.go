package jose

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

func TestNumericDate(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want time.Time
		ok   bool
	}{
		{json.Number("1760000000"), time.Unix(1760000000, 0), true},
		{json.Number("1760000000.5"), time.Unix(1760000000, 5e8), true},
		{float64(1760000000), time.Unix(1760000000, 0), true},
		{int64(5), time.Unix(5, 0), true},
		{7, time.Unix(7, 0), true},
		{json.Number("-1"), time.Time{}, false},
		{json.Number("1e13"), time.Time{}, false},
		{json.Number("x"), time.Time{}, false},
		{math.NaN(), time.Time{}, false},
		{math.Inf(1), time.Time{}, false},
		{"1760000000", time.Time{}, false},
		{nil, time.Time{}, false},
	} {
		got, ok := NumericDate(tc.v)
		if ok != tc.ok || !got.Equal(tc.want) || ok && got.Location() != time.UTC {
			t.Errorf("NumericDate(%#v) = %v, %v; want %v, %v (UTC)", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckTimes(t *testing.T) {
	now := time.Unix(1760000000, 0)
	at := func(d int64) json.Number {
		b, _ := json.Marshal(now.Unix() + d)
		return json.Number(b)
	}
	for _, tc := range []struct {
		name   string
		p      map[string]any
		leeway time.Duration
		code   errcode.Code
	}{
		{"none", map[string]any{}, 0, ""},
		{"valid", map[string]any{"iat": at(-60), "nbf": at(-60), "exp": at(60)}, 0, ""},
		{"exp now", map[string]any{"exp": at(0)}, 0, errcode.Expired},
		{"exp within leeway", map[string]any{"exp": at(-10)}, 30 * time.Second, ""},
		{"exp past leeway", map[string]any{"exp": at(-30)}, 30 * time.Second, errcode.Expired},
		{"iat ahead", map[string]any{"iat": at(1)}, 0, errcode.NotYetValid},
		{"iat ahead within leeway", map[string]any{"iat": at(30)}, 30 * time.Second, ""},
		{"nbf ahead", map[string]any{"nbf": at(31)}, 30 * time.Second, errcode.NotYetValid},
		{"exp not a date", map[string]any{"exp": "tomorrow"}, 0, errcode.StatusInvalid},
		{"iat not a date", map[string]any{"iat": json.Number("-5")}, 0, errcode.StatusInvalid},
	} {
		err := CheckTimes(tc.p, now, tc.leeway, errcode.StatusInvalid)
		if errcode.CodeOf(err) != tc.code || (tc.code == "") != (err == nil) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
}
