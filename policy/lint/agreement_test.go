package lint_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/policy"
	"github.com/keyportal/keyportal/policy/lint"
)

// TestLintAgreesWithTheEngine checks that whatever the policy engine refuses
// to load, lint reports as an error, on the line the engine names: a policy
// that lints clean must load. Both read the model with the same reader
// (policy/internal/modeltext); this compares their verdicts on whole files.
func TestLintAgreesWithTheEngine(t *testing.T) {
	model, err := os.ReadFile(filepath.Join("testdata", "model.conf"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.csv"))
	confs, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	for _, f := range append(files, confs...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg := policy.Config{ModelPath: filepath.Join("testdata", "model.conf"), PolicyPath: f}
			modelPath, modelText, policyPath, policyText := cfg.ModelPath, string(model), f, ""
			if strings.HasSuffix(f, ".conf") {
				cfg = policy.Config{ModelPath: f, PolicyText: demo.Policy}
				b, _ := os.ReadFile(f)
				modelPath, modelText, policyPath, policyText = f, string(b), "(inline policy)", demo.Policy
			} else {
				b, _ := os.ReadFile(f)
				policyText = string(b)
			}
			_, loadErr := policy.New(cfg)
			problems := lint.Lint(modelPath, modelText, policyPath, policyText)
			if loadErr == nil {
				return
			}
			if !lint.HasErrors(problems) {
				t.Fatalf("the engine refuses it (%v) but lint finds no error: %v", loadErr, problems)
			}
			var fe *policy.FileError
			if errors.As(loadErr, &fe) && fe.Line > 0 {
				for _, p := range problems {
					if p.Severity == lint.SeverityError && p.Line == fe.Line && filepath.Base(p.Path) == filepath.Base(fe.Path) {
						return
					}
				}
				t.Errorf("the engine refuses %s:%d (%s); lint's errors are elsewhere: %v", fe.Path, fe.Line, fe.Msg, problems)
			}
		})
	}
}

// FuzzLintAgreesWithTheEngine: for any policy text over the default model,
// if the engine refuses it, lint reports an error.
func FuzzLintAgreesWithTheEngine(f *testing.F) {
	f.Add(demo.Policy)
	for _, name := range []string{"field_count.csv", "unknown_ptype.csv", "syntax.csv", "tenant_status.csv", "owner_conflict.csv"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, loadErr := policy.New(policy.Config{PolicyText: text})
		problems := lint.Lint("(default model)", policy.DefaultModel, "(inline policy)", text)
		if loadErr != nil && !lint.HasErrors(problems) {
			t.Fatalf("engine refuses (%v), lint finds no error in %q", loadErr, text)
		}
	})
}

// TestShippedModelAndDemoPolicyLintClean keeps the shipped files free of
// errors; the demo's viewer, granted on purpose without permissions, is the
// only warning.
func TestShippedModelAndDemoPolicyLintClean(t *testing.T) {
	problems := lint.Lint("(default model)", policy.DefaultModel, "demo.csv", demo.Policy)
	if lint.HasErrors(problems) {
		t.Fatalf("errors in the shipped files: %v", problems)
	}
	for _, p := range problems {
		if p.Code != lint.CodeRoleNoPermissions || !strings.Contains(p.Msg, `"viewer"`) {
			t.Errorf("unexpected warning: %v", p)
		}
	}
}
