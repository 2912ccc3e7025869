package jose

import (
	"encoding/json"
	"math"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// maxNumericDate bounds a NumericDate (about the year 33658), so that a
// time.Time never overflows.
const maxNumericDate = 1e12

// NumericDate reads a JWT NumericDate (RFC 7519 section 2: seconds since
// the epoch, fractions allowed) as decoded from JSON (json.Number or
// float64) or set by Go code (int, int64). It is false for anything else,
// for a negative, non-finite or absurdly large value. The time is in UTC.
func NumericDate(v any) (time.Time, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, false
		}
	case float64:
		f = n
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// DateClaim reads the NumericDate claim name of p; ok is false when p has
// none, and a value that is not a NumericDate is an error with code bad.
func DateClaim(p map[string]any, name string, bad errcode.Code) (t time.Time, ok bool, err error) {
	v, ok := p[name]
	if !ok {
		return time.Time{}, false, nil
	}
	if t, ok = NumericDate(v); !ok {
		return time.Time{}, false, errcode.New(bad, "%s is not a NumericDate", name)
	}
	return t, true, nil
}

// CheckTimes applies the exp, nbf and iat claims of p to now with leeway,
// the one rule for credentials and status lists: expired when now is not
// before exp + leeway, not_yet_valid when nbf or iat lies after
// now + leeway. A date claim that is not a NumericDate has code bad.
func CheckTimes(p map[string]any, now time.Time, leeway time.Duration, bad errcode.Code) error {
	exp, ok, err := DateClaim(p, "exp", bad)
	if err != nil {
		return err
	}
	if ok && !now.Before(exp.Add(leeway)) {
		return errcode.New(errcode.Expired, "expired at %s", exp.Format(time.RFC3339))
	}
	for _, c := range []struct{ name, msg string }{{"nbf", "not valid before %s"}, {"iat", "issued in the future (%s)"}} {
		t, ok, err := DateClaim(p, c.name, bad)
		if err != nil {
			return err
		}
		if ok && now.Add(leeway).Before(t) {
			return errcode.New(errcode.NotYetValid, c.msg, t.Format(time.RFC3339))
		}
	}
	return nil
}
