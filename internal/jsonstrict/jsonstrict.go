// Package jsonstrict decodes untrusted JSON without the ambiguities that
// let two parsers read one document differently. Before anything is
// decoded, one pass over the tokens refuses:
//
//   - a member name given twice in one object, and two member names that
//     differ only in case ("audience" and "AUDIENCE": encoding/json matches
//     struct fields case-insensitively and keeps the last one);
//   - when the target is a struct, a member that is not exactly (case
//     included) one of its JSON field names;
//   - numbers longer than MaxNumberLen characters or with an exponent
//     beyond ±MaxNumberExponent, which would make exact arithmetic (JSON
//     Schema bounds, big.Rat) arbitrarily expensive;
//   - nesting deeper than MaxDepth, and data after the value.
//
// The pass stops at the first violation. Only then is the value decoded,
// with encoding/json (numbers as json.Number, unknown fields refused).
package jsonstrict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The bounds every untrusted JSON document is held to.
const (
	// MaxNumberLen bounds the characters of one number (sign, digits,
	// fraction and exponent together).
	MaxNumberLen = 64
	// MaxNumberExponent bounds the absolute value of a number's exponent.
	MaxNumberExponent = 400
	// MaxDepth bounds the nesting of objects and arrays.
	MaxDepth = 32
)

// Decode decodes exactly one JSON value from b into v, a non-nil pointer,
// after the checks described in the package comment.
func Decode(b []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("jsonstrict: Decode needs a non-nil pointer")
	}
	if err := scan(b, rv.Type().Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// Check applies the checks of the package comment to a document of any
// shape (member names are free), without decoding it.
func Check(b []byte) error { return scan(b, nil) }

// DecodeValue decodes exactly one JSON value of any shape (member names are
// free) from b in a single pass that applies the checks of the package
// comment as it goes: objects become map[string]any, arrays []any, numbers
// json.Number, as encoding/json decodes into an interface with UseNumber.
// It is the one-pass form of Check followed by that decoding.
func DecodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := walk(dec, nil, 0, "", true)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func scan(b []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := walk(dec, t, 0, "", false); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// CheckNumber reports whether s, a JSON number, is within MaxNumberLen
// and MaxNumberExponent.
func CheckNumber(s string) error {
	if len(s) > MaxNumberLen {
		return fmt.Errorf("number %.16s... has more than %d characters", s, MaxNumberLen)
	}
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return nil
	}
	e := strings.TrimLeft(s[i+1:], "+-")
	e = strings.TrimLeft(e, "0")
	if len(e) > 3 {
		return fmt.Errorf("number %s has an exponent beyond ±%d", s, MaxNumberExponent)
	}
	if n, err := strconv.Atoi("0" + e); err != nil || n > MaxNumberExponent {
		return fmt.Errorf("number %s has an exponent beyond ±%d", s, MaxNumberExponent)
	}
	return nil
}

// walk reads one value. t is the Go type it will be decoded into, or nil
// when any member names are allowed. With build it returns the value
// decoded, else nil.
func walk(dec *json.Decoder, t reflect.Type, depth int, at string, build bool) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxErr(err)
	}
	t = free(t)
	switch x := tok.(type) {
	case json.Number:
		if err := CheckNumber(string(x)); err != nil {
			return nil, fmt.Errorf("%s: %w", where(at), err)
		}
		return x, nil
	case json.Delim:
		if depth+1 > MaxDepth {
			return nil, fmt.Errorf("%s: nesting deeper than %d", where(at), MaxDepth)
		}
		if x == '[' {
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			var arr []any
			if build {
				arr = []any{}
			}
			for i := 0; dec.More(); i++ {
				v, err := walk(dec, elem, depth+1, at+"/"+strconv.Itoa(i), build)
				if err != nil {
					return nil, err
				}
				if build {
					arr = append(arr, v)
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, syntaxErr(err)
			}
			if build {
				return arr, nil
			}
			return nil, nil
		}
		return object(dec, t, depth, at, build)
	}
	if !build {
		return nil, nil
	}
	return tok, nil // string, bool, nil
}

func object(dec *json.Decoder, t reflect.Type, depth int, at string, build bool) (any, error) {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = map[string]reflect.Type{}
		structFields(t, fields)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	var out map[string]any
	if build {
		out = map[string]any{}
	}
	exact := map[string]bool{}
	folded := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxErr(err)
		}
		name, _ := tok.(string)
		if exact[name] {
			return nil, fmt.Errorf("%s: member %q appears twice", where(at), name)
		}
		exact[name] = true
		f := fold(name)
		if other, dup := folded[f]; dup {
			return nil, fmt.Errorf("%s: members %q and %q differ only in case", where(at), other, name)
		}
		folded[f] = name
		next := elem
		if fields != nil {
			ft, ok := fields[name]
			if !ok {
				return nil, fmt.Errorf("%s: unknown member %q", where(at), name)
			}
			next = ft
		}
		v, err := walk(dec, next, depth+1, at+"/"+escape(name), build)
		if err != nil {
			return nil, err
		}
		if build {
			out[name] = v
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, syntaxErr(err)
	}
	if build {
		return out, nil
	}
	return nil, nil
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	rawType         = reflect.TypeFor[json.RawMessage]()
)

// free dereferences pointers and returns nil for types whose member names
// are not ours to check: interfaces, json.RawMessage, and types that
// decode themselves.
func free(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || t == rawType || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

// structFields collects the JSON names of t's fields, promoted ones from
// embedded structs included, as encoding/json sees them.
func structFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				structFields(ft, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, shadowed := out[name]; !shadowed {
			out[name] = f.Type
		}
	}
}

// fold maps s to one representative of its case-folding class, so that two
// names fold to the same string exactly when strings.EqualFold says they
// are equal.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	if !utf8.ValidString(s) {
		return s
	}
	return b.String()
}

func syntaxErr(err error) error {
	if err == nil {
		return nil
	}
	if err == io.EOF {
		return errors.New("unexpected end of JSON input")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

func where(at string) string {
	if at == "" {
		return "(root)"
	}
	return at
}

// escape makes s one JSON Pointer reference token.
func escape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return pointerEscaper.Replace(s)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
