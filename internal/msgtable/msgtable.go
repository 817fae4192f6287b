// Package msgtable holds, once, the rules of keyportal's message tables:
// wasmui.Messages (the shell's texts) and portal.Messages (the portal
// page's). A table is a struct of string fields, each named by its json tag;
// an empty field means the English default, which Fill takes from the
// table's one English value. Check bounds what a host or an API client may
// put in a table; FromMap refuses keys the table does not have.
package msgtable

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keyportal/keyportal/internal/safetext"
)

// MaxLen bounds each text of a table, in characters.
const MaxLen = 500

// LangKey is the key of a table's language tag (its Lang field), written as
// the page's lang attribute.
const LangKey = "lang"

// ErrInvalid means a table holds a text or a key it may not; the wrapping
// error says which, in words fit for the client that sent it.
var ErrInvalid = errors.New("invalid messages")

// langRE is the shape of a BCP 47 language tag: "de", "pt-BR", "zh-Hant-TW".
var langRE = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

// fields returns the json names of T's string fields, in declaration order.
// T must be a struct whose exported fields are all strings with a json tag.
func fields(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type.Kind() != reflect.String || name == "" || name == "-" {
			panic(fmt.Sprintf("msgtable: %s.%s must be a string with a json name", t, f.Name))
		}
		names[i] = name
	}
	return names
}

// Keys returns the keys of table type T in declaration order.
func Keys[T any]() []string {
	return fields(reflect.TypeFor[T]())
}

// Fill returns m with each empty text taken from def.
func Fill[T any](m, def T) T {
	v := reflect.ValueOf(&m).Elem()
	d := reflect.ValueOf(def)
	for i := range v.NumField() {
		if v.Field(i).String() == "" {
			v.Field(i).SetString(d.Field(i).String())
		}
	}
	return m
}

// Check reports the first text of m that is not one line of at most MaxLen
// characters of UTF-8 free of safetext.Unsafe characters, or a Lang that is
// not a language tag. Its message names the key and the character's code
// point, never the character.
func Check[T any](m T) error {
	v := reflect.ValueOf(m)
	for i, key := range fields(v.Type()) {
		s := v.Field(i).String()
		switch {
		case utf8.RuneCountInString(s) > MaxLen:
			return fmt.Errorf("%w: %s must be at most %d characters", ErrInvalid, key, MaxLen)
		case !utf8.ValidString(s):
			return fmt.Errorf("%w: %s must be valid UTF-8", ErrInvalid, key)
		case key == LangKey && s != "" && !langRE.MatchString(s):
			return fmt.Errorf("%w: %s %q must be a language tag such as de or pt-BR", ErrInvalid, key, s)
		}
		n := 0
		for _, r := range s {
			n++
			if safetext.Unsafe(r) {
				return fmt.Errorf("%w: %s must be one line without control characters, bidi controls or invisible format characters (%U at character %d)", ErrInvalid, key, r, n)
			}
		}
	}
	return nil
}

// FromMap returns the table that holds texts by key, after Check. A key T
// does not have is refused, with the keys it has.
func FromMap[T any](texts map[string]string) (T, error) {
	var m T
	v := reflect.ValueOf(&m).Elem()
	keys := fields(v.Type())
	for _, k := range slices.Sorted(maps.Keys(texts)) {
		i := slices.Index(keys, k)
		if i < 0 {
			return m, fmt.Errorf("%w: unknown key %q; the keys are %s", ErrInvalid, k, strings.Join(keys, ", "))
		}
		v.Field(i).SetString(texts[k])
	}
	return m, Check(m)
}

// Lenient is FromMap for texts read back from storage: it keeps the keys T
// has and drops the others (a key a later version removed), and drops a
// text Check refuses rather than fail the page.
func Lenient[T any](texts map[string]string) T {
	var m T
	v := reflect.ValueOf(&m).Elem()
	keys := fields(v.Type())
	for k, s := range texts {
		i := slices.Index(keys, k)
		if i < 0 {
			continue
		}
		v.Field(i).SetString(s)
		if Check(m) != nil {
			v.Field(i).SetString("")
		}
	}
	return m
}

// ToMap returns m's non-empty texts by key (nil if there are none).
func ToMap[T any](m T) map[string]string {
	v := reflect.ValueOf(m)
	var out map[string]string
	for i, key := range fields(v.Type()) {
		if s := v.Field(i).String(); s != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[key] = s
		}
	}
	return out
}
