package wacht

import "encoding/json"

// list reads a list answer: an object whose member field holds the items
// ({"apps": [...]}) or, as the npm SDK expects, a bare array. Each item
// must validate itself.
type list[T any, P interface {
	*T
	validator
}] struct {
	field   string
	items   []T
	present bool // the array was there
}

// UnmarshalJSON decodes either a bare JSON array or an object whose member
// l.field holds the array.
func (l *list[T, P]) UnmarshalJSON(b []byte) error {
	for _, c := range b {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c == '[' {
			l.present = true
			return json.Unmarshal(b, &l.items)
		}
		break
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	raw, ok := obj[l.field]
	if !ok {
		return nil
	}
	l.present = true
	return json.Unmarshal(raw, &l.items)
}

func (l *list[T, P]) validate() string {
	if !l.present {
		return `no "` + l.field + `" list in the response`
	}
	for i := range l.items {
		if p := P(&l.items[i]).validate(); p != "" {
			return p
		}
	}
	return ""
}
