package modeltext

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestReadKeepsWhereEverythingIs(t *testing.T) {
	text := strings.Join([]string{
		"# a comment",                           // 1
		"[request_definition]",                  // 2
		"r = sub, obj, act",                     // 3
		"",                                      // 4
		"[policy_definition]",                   // 5
		"p = sub, \\",                           // 6
		"    obj, act",                          // 7
		"; another comment",                     // 8
		"[role_definition]",                     // 9
		"g = _, _",                              // 10
		"[policy_effect]",                       // 11
		"e = some(where (p.eft == allow))",      // 12
		"[matchers]",                            // 13
		"m = r.sub == p.sub && g(r.sub, p.sub)", // 14
		"",
	}, "\r\n")
	f := Read(text)
	if len(f.Problems) != 0 {
		t.Fatalf("problems in a good model: %+v", f.Problems)
	}
	var got []string
	for _, d := range f.Defs {
		got = append(got, fmt.Sprintf("%d [%s] %s = %q %q", d.Line, d.Section, d.Key, d.Value, d.Fields))
	}
	want := []string{
		`3 [request_definition] r = "sub, obj, act" ["sub" "obj" "act"]`,
		`6 [policy_definition] p = "sub, obj, act" ["sub" "obj" "act"]`,
		`10 [role_definition] g = "_, _" ["_" "_"]`,
		`12 [policy_effect] e = "some(where (p.eft == allow))" ["some(where (p.eft == allow))"]`,
		`14 [matchers] m = "r.sub == p.sub && g(r.sub, p.sub)" ["r.sub == p.sub && g(r.sub" "p.sub)"]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Defs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.ByKey["g"] != f.Defs[2] {
		t.Error("ByKey does not hold the same definitions")
	}
	wantSections := map[string]int{"request_definition": 2, "policy_definition": 5, "role_definition": 9, "policy_effect": 11, "matchers": 13}
	for s, line := range wantSections {
		if f.Sections[s] != line {
			t.Errorf("section %s at line %d, want %d", s, f.Sections[s], line)
		}
	}
	if f.Lines != 14 {
		t.Errorf("Lines = %d, want 14 (the final newline starts no line)", f.Lines)
	}
	if m := f.Missing(); len(m) != 0 {
		t.Errorf("Missing() = %q", m)
	}
}

func TestReadReportsEachProblemAndReadsOn(t *testing.T) {
	text := strings.Join([]string{
		"r = sub",              // 1 outside any section
		"[request_definition",  // 2 unclosed: still no section
		"[request_definition]", // 3
		"r = sub, obj",         // 4
		"r = sub",              // 5 repeated key
		"[tenants]",            // 6 unknown section
		"t = _, _",             // 7 skipped: its section is the problem
		"[policy_definition]",  // 8
		"p",                    // 9 not a definition
		"p1 = sub",             // 10 casbin reads p, p2, ... never p1
		"g = _, _",             // 11 a g key in [policy_definition]
		"p2 =",                 // 12 empty value, kept
		"[request_definition]", // 13 repeated section
		"r2 = sub",             // 14 belongs to [request_definition]
	}, "\n")
	f := Read(text)
	var got []string
	for _, p := range f.Problems {
		got = append(got, fmt.Sprintf("%d %d %q %q %d", p.Line, p.Kind, p.Text, p.Section, p.First))
	}
	want := []string{
		fmt.Sprintf(`1 %d "r" "" 0`, OutsideSection),
		fmt.Sprintf(`2 %d "[request_definition" "" 0`, UnclosedHeader),
		fmt.Sprintf(`5 %d "r" "" 4`, RepeatedKey),
		fmt.Sprintf(`6 %d "tenants" "" 0`, UnknownSection),
		fmt.Sprintf(`9 %d "p" "" 0`, NotDefinition),
		fmt.Sprintf(`10 %d "p1" "policy_definition" 0`, UnknownKey),
		fmt.Sprintf(`11 %d "g" "policy_definition" 0`, UnknownKey),
		fmt.Sprintf(`12 %d "p2" "" 0`, EmptyValue),
		fmt.Sprintf(`13 %d "request_definition" "" 3`, RepeatedSection),
	}
	if !slices.Equal(got, want) {
		t.Errorf("Problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var keys []string
	for _, d := range f.Defs {
		keys = append(keys, fmt.Sprintf("%s@%d", d.Key, d.Line))
	}
	if want := []string{"r@4", "p2@12", "r2@14"}; !slices.Equal(keys, want) {
		t.Errorf("Defs = %q, want %q", keys, want)
	}
	if f.ByKey["r2"].Section != "request_definition" {
		t.Errorf("r2 is in [%s], want [request_definition]", f.ByKey["r2"].Section)
	}
	if m := f.Missing(); !slices.Equal(m, []string{"policy_effect", "matchers"}) {
		t.Errorf("Missing() = %q", m)
	}
}

func TestReadCountsLines(t *testing.T) {
	for text, want := range map[string]int{"": 1, "a": 1, "a\n": 1, "a\nb": 2, "a\nb\n": 2, "a\n\n": 2} {
		if got := Read(text).Lines; got != want {
			t.Errorf("Read(%q).Lines = %d, want %d", text, got, want)
		}
	}
}
