package msgtable

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/testenv"
)

type table struct {
	Lang  string `json:"lang"`
	Hello string `json:"hello"`
	Bye   string `json:"bye"`
}

var english = table{Lang: "en", Hello: "Hello", Bye: "Bye"}

func TestFillTakesOnlyEmptyTexts(t *testing.T) {
	got := Fill(table{Lang: "de", Hello: "Hallo"}, english)
	if got != (table{Lang: "de", Hello: "Hallo", Bye: "Bye"}) {
		t.Fatalf("Fill = %+v", got)
	}
}

func TestFromMapRefusesUnknownKeys(t *testing.T) {
	m, err := FromMap[table](map[string]string{"hello": "Salut", "lang": "fr"})
	if err != nil || m != (table{Lang: "fr", Hello: "Salut"}) {
		t.Fatalf("FromMap = %+v, %v", m, err)
	}
	_, err = FromMap[table](map[string]string{"hello": "Salut", "helo": "x"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `unknown key "helo"`) || !strings.Contains(err.Error(), "lang, hello, bye") {
		t.Fatalf("FromMap with a typo: %v, want an error naming the key and listing the keys", err)
	}
}

func TestCheckRefusesHostileText(t *testing.T) {
	for _, h := range testenv.HostileText {
		err := Check(table{Hello: h.Text})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "hello") {
			t.Errorf("%s: Check = %v, want ErrInvalid naming the key", h.Name, err)
		}
		if strings.Contains(err.Error(), h.Text) {
			t.Errorf("%s: the message quotes the text", h.Name)
		}
	}
	if err := Check(table{Bye: strings.Repeat("ü", MaxLen+1)}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bye must be at most 500") {
		t.Errorf("a long text: %v", err)
	}
	for _, lang := range []string{"de", "pt-BR", "zh-Hant-TW"} {
		if err := Check(table{Lang: lang}); err != nil {
			t.Errorf("lang %q: %v", lang, err)
		}
	}
	for _, lang := range []string{"d", `de" onload="x`, "de_DE", "-de"} {
		if err := Check(table{Lang: lang}); !errors.Is(err, ErrInvalid) {
			t.Errorf("lang %q accepted", lang)
		}
	}
	if err := Check(table{Hello: "Grüß Gott, 中文 🙂 «x»"}); err != nil {
		t.Errorf("a safe text: %v", err)
	}
}

func TestLenientDropsWhatItCannotShow(t *testing.T) {
	got := Lenient[table](map[string]string{"hello": "Hallo", "gone": "x", "bye": "a\x1bb"})
	if got != (table{Hello: "Hallo"}) {
		t.Fatalf("Lenient = %+v", got)
	}
}

func TestToMapKeepsSetTexts(t *testing.T) {
	m := ToMap(table{Hello: "Hallo"})
	if len(m) != 1 || m["hello"] != "Hallo" {
		t.Fatalf("ToMap = %v", m)
	}
	if ToMap(table{}) != nil {
		t.Fatal("ToMap of an empty table is not nil")
	}
}
