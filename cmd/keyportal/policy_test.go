package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPolicyGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"lint_demo_warning", []string{"policy", "lint", "--policy", "../../internal/demo/demo.csv"}, exitOK},
		{"lint_clean", []string{"policy", "lint", "--policy", "testdata/clean.csv"}, exitOK},
		{"lint_owner_conflict", []string{"policy", "lint", "--policy", "testdata/owner_conflict.csv"}, exitFindings},
		{"lint_per_tenant_json", []string{"policy", "lint", "--policy", "testdata/per_tenant.csv", "--json"}, exitOK},
		{"lint_no_policy", []string{"policy", "lint"}, exitUsage},
		{"lint_missing_file", []string{"policy", "lint", "--policy", "testdata/nope.csv"}, exitUsage},
		{"test_pass", []string{"policy", "test", "--policy", "../../internal/demo/demo.csv", "--cases", "testdata/cases.csv"}, exitOK},
		{"test_fail", []string{"policy", "test", "--policy", "../../internal/demo/demo.csv", "--cases", "testdata/cases_failing.csv"}, exitFindings},
		{"test_fail_json", []string{"policy", "test", "--policy", "../../internal/demo/demo.csv", "--cases", "testdata/cases_failing.csv", "--json"}, exitFindings},
		{"test_bad_cases", []string{"policy", "test", "--policy", "../../internal/demo/demo.csv", "--cases", "testdata/cases_bad.csv"}, exitUsage},
		{"test_other_policy", []string{"policy", "test", "--policy", "testdata/other_policy.csv", "--cases", "testdata/cases.csv"}, exitFindings},
		{"matrix_text", []string{"policy", "matrix", "--policy", "../../internal/demo/demo.csv"}, exitOK},
		{"matrix_no_policy", []string{"policy", "matrix"}, exitUsage},
		{"matrix_csv", []string{"policy", "matrix", "--policy", "testdata/clean.csv", "--format", "csv"}, exitOK},
		{"matrix_markdown", []string{"policy", "matrix", "--policy", "testdata/clean.csv", "--format", "markdown"}, exitOK},
		{"matrix_bad_format", []string{"policy", "matrix", "--policy", "testdata/clean.csv", "--format", "html"}, exitUsage},
		{"explain_allow", []string{"policy", "explain", "alice", "acme", "deployment:42", "api_keys:manage", "--policy", "../../internal/demo/demo.csv"}, exitOK},
		{"explain_not_owner", []string{"policy", "explain", "frank", "globex", "deployment:42", "api_keys:manage", "--policy", "../../internal/demo/demo.csv"}, exitOK},
		{"explain_suspended_json", []string{"policy", "explain", "heidi", "initech", "deployment:99", "api_keys:manage", "--json", "--policy", "../../internal/demo/demo.csv"}, exitOK},
		{"explain_no_policy", []string{"policy", "explain", "alice", "acme", "deployment:42", "api_keys:manage"}, exitUsage},
		{"explain_wrong_args", []string{"policy", "explain", "alice", "acme"}, exitUsage},
		{"policy_unknown_subcommand", []string{"policy", "lnt"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.run(tt.args...)
			expect(t, r, tt.code)
			h.golden(tt.name, r)
		})
	}
}

// TestPolicyTestJSONIsOneObjectPerCase checks --json is machine-readable: one
// object per line, failures marked.
func TestPolicyTestJSONIsOneObjectPerCase(t *testing.T) {
	h := newHarness(t)
	r := h.run("policy", "test", "--policy", "../../internal/demo/demo.csv", "--cases", "testdata/cases_failing.csv", "--json")
	expect(t, r, exitFindings)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4 (one per case):\n%s", len(lines), r.stdout)
	}
	failed := 0
	for _, l := range lines {
		var c caseJSON
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if !c.Pass {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failures, want 2 (dave and frank)", failed)
	}
}
