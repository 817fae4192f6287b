package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const demoCases = `# who, where, what, how, expected
subject,tenant,object,action,expect
alice, acme, deployment:42, api_keys:manage, allow
dave, acme, deployment:42, api_keys:manage, denied_by_rule
bob, acme, deployment:77, api_keys:manage, not_owner

heidi, initech, deployment:99, api_keys:manage, deny
frank, acme, deployment:42, api_keys:manage, NO_ROLE
# this one is wrong on purpose: viewers may not manage keys
dave, acme, deployment:43, api_keys:manage, allow
`

func TestParseAndRunCases(t *testing.T) {
	cases, err := ParseCases(strings.NewReader(demoCases), "demo_cases.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 6 {
		t.Fatalf("parsed %d cases, want 6", len(cases))
	}
	if c := cases[0]; c.Subject != "alice" || c.Tenant != "acme" || c.Object != "deployment:42" || c.Action != manage || c.Expect != "allow" || c.Line != 3 {
		t.Fatalf("first case = %+v", c)
	}
	if cases[4].Expect != "no_role" {
		t.Errorf("expect not normalised: %q", cases[4].Expect)
	}
	results, err := RunCases(context.Background(), demoEngine(t), cases)
	if err != nil {
		t.Fatal(err)
	}
	var failed []int
	for _, r := range results {
		if !r.Pass {
			failed = append(failed, r.Case.Line)
		}
	}
	if len(failed) != 1 || failed[0] != 10 {
		t.Fatalf("failing lines = %v, want [10]", failed)
	}
	if last := results[5]; last.Decision.Reason != ReasonDeniedByRule || last.Pass {
		t.Errorf("wrong case result = %+v", last)
	}
}

func TestParseCasesErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"too few fields", "alice, acme, deployment:42, allow\n", "cases.csv:1: want 5 fields"},
		{"empty field", "# c\n\nalice, , deployment:42, api_keys:manage, allow\n", "cases.csv:3: field 2 (tenant) is empty"},
		{"unknown expectation", "subject,tenant,object,action,expect\nalice, acme, deployment:42, api_keys:manage, yes\n", `cases.csv:2: expect "yes" is not allow, deny or a reason`},
		// The same reader as policy files: the CSV error without encoding/csv's
		// line and column, which count within the one line read; a line too
		// long to read is an error at that line.
		{"bad quoting", "# c\nalice, acme, \"deployment:42, api_keys:manage, allow\n", "cases.csv:2: not a CSV row: extraneous or missing \" in quoted-field"},
		{"trailing comment", "alice, acme, deployment:42, api_keys:manage, allow  # she owns it\n", `cases.csv:1: comment after the row ("# she owns it")`},
		{"line too long", "# c\nalice, acme, deployment:42, api_keys:manage, " + strings.Repeat("x", 1<<20) + "\n", "cases.csv:2: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCases(strings.NewReader(tt.text), "cases.csv")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FileError", err)
			}
		})
	}
}

type failingDecider struct{}

func (failingDecider) Decide(context.Context, Request) (Decision, error) {
	return Decision{}, errors.New("store down")
}

func TestRunCasesDeciderError(t *testing.T) {
	cases := []Case{{Request: Request{"alice", "acme", "deployment:42", manage}, Expect: "allow", Line: 7}}
	_, err := RunCases(context.Background(), failingDecider{}, cases)
	if err == nil || !strings.Contains(err.Error(), "line 7") || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("error = %v", err)
	}
}
