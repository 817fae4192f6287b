package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/policy"
	"github.com/keyportal/keyportal/policy/lint"
)

// embeddedModelName names the shipped model, which has no file.
const embeddedModelName = "(default model)"

func (c *cli) policyCommand() *cobra.Command {
	return group(&cobra.Command{
		Use:   "policy",
		Short: "Lint, test, tabulate and explain a Casbin access policy",
		Long: `Commands for policy authors. A policy is a Casbin model (--model; default:
the model shipped in keyportal) and a policy CSV (--policy) of permission rows
(p, role, tenant or *, object pattern, action), role grants (g, user, role,
tenant), resource ownership (g2, object, tenant) and tenant status (g3, tenant,
active|suspended|deleted).`,
		Example: "  keyportal policy lint --policy policy.csv\n  keyportal policy explain alice acme deployment:42 api_keys:manage --policy policy.csv",
	}, c.lintCommand(), c.testCommand(), c.matrixCommand(), c.explainCommand())
}

// policyFiles are the --model and --policy flags; purpose completes "the
// policy CSV to ...", what the command does with the policy.
type policyFiles struct{ model, policy, purpose string }

func (f *policyFiles) add(cmd *cobra.Command, purpose string) {
	f.purpose = purpose
	cmd.Flags().StringVar(&f.model, "model", "", "Casbin model file (default: the model shipped in keyportal)")
	cmd.Flags().StringVar(&f.policy, "policy", "", "policy CSV to "+purpose+" (required)")
	_ = cmd.MarkFlagFilename("model", "conf")
	_ = cmd.MarkFlagFilename("policy", "csv")
}

// required refuses to run without --policy: every policy command answers
// for the author's own policy, never for a built-in one.
func (f *policyFiles) required(cmd *cobra.Command) error {
	if f.policy == "" {
		return usageErrorf(cmd, "--policy is required: the policy CSV to %s", f.purpose)
	}
	return nil
}

// load loads the files into a policy engine, returning the engine's error.
func (f *policyFiles) load() (*policy.Engine, error) {
	return policy.New(policy.Config{ModelPath: f.model, PolicyPath: f.policy, Logger: zerolog.Nop()}) // one-shot: errors are returned, not logged
}

// engine loads the files into a policy engine. Like required, it refuses to
// run without --policy; it explains why the engine refused the files.
func (f *policyFiles) engine(cmd *cobra.Command) (*policy.Engine, error) {
	if err := f.required(cmd); err != nil {
		return nil, err
	}
	e, err := f.load()
	if err != nil {
		return nil, f.loadError(err)
	}
	return e, nil
}

// loadError explains why the engine refused the files, and what to do.
func (f *policyFiles) loadError(err error) error {
	var fe *policy.FileError
	if errors.As(err, &fe) && fe.Line > 0 {
		return failf(fmt.Sprintf("Run 'keyportal policy lint%s' to see every problem with a hint.", f.lintArgs()),
			"%s:%d: %s", fe.Path, fe.Line, fe.Msg)
	}
	if errors.As(err, &fe) {
		return failf("Check the paths given to --model and --policy; leave --model out to use the shipped model.", "%s: %s", fe.Path, fe.Msg)
	}
	return failf(fmt.Sprintf("Run 'keyportal policy lint%s' for details.", f.lintArgs()), "%v", err)
}

// lint reads the model (the shipped one without --model) and the policy,
// and lints them.
func (f *policyFiles) lint() ([]lint.Problem, error) {
	modelPath, modelText := embeddedModelName, policy.DefaultModel
	if f.model != "" {
		b, err := os.ReadFile(f.model)
		if err != nil {
			return nil, failf("Check the path given to --model.", "cannot read the model: %v", err)
		}
		modelPath, modelText = f.model, string(b)
	}
	b, err := os.ReadFile(f.policy)
	if err != nil {
		return nil, failf("Check the path given to --policy.", "cannot read the policy: %v", err)
	}
	return lint.Lint(modelPath, modelText, f.policy, string(b)), nil
}

func (f *policyFiles) lintArgs() string {
	s := ""
	if f.model != "" {
		s += " --model " + f.model
	}
	if f.policy != "" {
		s += " --policy " + f.policy
	}
	return s
}

func (c *cli) lintCommand() *cobra.Command {
	var files policyFiles
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lint --policy FILE [--model FILE]",
		Short: "Report every problem in a model and policy, with file:line and a hint",
		Long: `lint reads the model and the policy and reports every problem with its file,
line and a hint:

  errors    a row with the wrong number of fields, or an empty one; an unknown
            model section or row type; a matcher naming an undefined field or
            function, or calling a role function with the wrong number of
            arguments; a resource owned by two tenants; an unknown or
            contradictory tenant status; a row that cannot be parsed
  warnings  a role with permission rows that nobody is granted; a role granted
            but without permissions; a duplicate row; permission rows
            repeated per tenant where one template row would do (each
            decision scans every permission row, so per-tenant rows slow
            decisions as tenants grow)

It exits 1 when there is an error, 0 when there are only warnings.`,
		Example: `  keyportal policy lint --policy policy.csv
  keyportal policy lint --model model.conf --policy policy.csv --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := files.required(cmd); err != nil {
				return err
			}
			problems, err := files.lint()
			if err != nil {
				return err
			}
			if !lint.HasErrors(problems) {
				// Whatever the linter does not know, the engine may still refuse.
				e, err := files.load()
				if err != nil {
					problems = append(problems, loadProblem(err, files.policy))
				} else {
					e.Close()
				}
			}
			return c.printProblems(problems, files.policy, asJSON)
		},
	}
	files.add(cmd, "check")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per problem")
	return cmd
}

// lintNote warns on stderr when the policy that loaded still has lint
// errors (say, a resource owned by two tenants): its answers may be what
// the rules say and still not what the author meant.
func (c *cli) lintNote(files policyFiles) {
	if files.policy == "" {
		return
	}
	problems, err := files.lint()
	if err != nil {
		return // the engine read the files a moment ago; nothing useful to add
	}
	if errs, _ := lint.Count(problems); errs > 0 {
		fmt.Fprintf(c.errOut, "note: %s has %s; run 'keyportal policy lint%s'\n", files.policy, plural(errs, "lint error", "lint errors"), files.lintArgs())
	}
}

// loadProblem turns an engine load failure the linter missed into a problem.
func loadProblem(err error, policyPath string) lint.Problem {
	p := lint.Problem{Path: policyPath, Severity: lint.SeverityError, Code: "load", Msg: err.Error(),
		Hint: "the policy engine refused the files though lint found no error: please report this gap in lint"}
	var fe *policy.FileError
	if errors.As(err, &fe) {
		p.Path, p.Line, p.Msg = fe.Path, fe.Line, fe.Msg
	}
	return p
}

func (c *cli) printProblems(problems []lint.Problem, policyPath string, asJSON bool) error {
	if asJSON {
		if err := jsonLines(c.out, problems); err != nil {
			return err
		}
	} else {
		st := c.style(c.out)
		for _, p := range problems {
			loc := p.Path
			if p.Line > 0 {
				loc = fmt.Sprintf("%s:%d", p.Path, p.Line)
			}
			sev := st.yellow("warning")
			if p.Severity == lint.SeverityError {
				sev = st.red("error")
			}
			fmt.Fprintf(c.out, "%s: %s: %s %s\n", st.bold(loc), sev, p.Msg, st.dim("["+p.Code+"]"))
			if p.Hint != "" {
				fmt.Fprintf(c.out, "    hint: %s\n", p.Hint)
			}
		}
		errs, warns := lint.Count(problems)
		switch {
		case len(problems) == 0:
			fmt.Fprintf(c.out, "%s: %s\n", policyPath, st.green("no problems"))
		default:
			fmt.Fprintf(c.out, "%s, %s\n", plural(errs, "error", "errors"), plural(warns, "warning", "warnings"))
		}
	}
	if lint.HasErrors(problems) {
		return errFindings
	}
	return nil
}

func (c *cli) testCommand() *cobra.Command {
	var files policyFiles
	var casesPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test --policy FILE --cases FILE [--model FILE]",
		Short: "Run policy test cases and report each failure with its rule and role chain",
		Long: `test decides every case of a cases file against the policy. A case is a CSV
row: subject, tenant, object, action, expect, where expect is allow, deny, or
a reason (allowed, no_role, not_owner, tenant_suspended, tenant_deleted,
denied_by_rule, unknown_tenant). A header row and lines starting with # are
skipped.

Each failure is printed with the rule that matched, the subject's role chain
in the tenant and the tenant's status. It exits 1 when any case fails.`,
		Example: `  keyportal policy test --policy policy.csv --cases cases.csv
  keyportal policy test --policy policy.csv --cases cases.csv --json | jq 'select(.pass == false)'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if files.policy == "" || casesPath == "" {
				return usageErrorf(cmd, "--policy and --cases are both required")
			}
			e, err := files.engine(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			f, err := os.Open(casesPath)
			if err != nil {
				return failf("Check the path given to --cases.", "cannot read the cases: %v", err)
			}
			defer f.Close()
			cases, err := policy.ParseCases(f, casesPath)
			if err != nil {
				return failf("A case is: subject, tenant, object, action, expect (allow, deny or a reason).", "%v", err)
			}
			if len(cases) == 0 {
				return failf("Add rows: subject, tenant, object, action, expect.", "%s holds no cases", casesPath)
			}
			c.lintNote(files)
			results, err := policy.RunCases(cmd.Context(), e, cases)
			if err != nil {
				return failf("Fix that case: every field must be set.", "%v", err)
			}
			return c.printResults(results, casesPath, asJSON)
		},
	}
	files.add(cmd, "test")
	cmd.Flags().StringVar(&casesPath, "cases", "", "cases CSV: subject, tenant, object, action, expect (required)")
	_ = cmd.MarkFlagFilename("cases", "csv")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per case")
	return cmd
}

// caseJSON is one case result for --json.
type caseJSON struct {
	Line         int      `json:"line"`
	Subject      string   `json:"subject"`
	Tenant       string   `json:"tenant"`
	Object       string   `json:"object"`
	Action       string   `json:"action"`
	Expect       string   `json:"expect"`
	Pass         bool     `json:"pass"`
	Allowed      bool     `json:"allowed"`
	Reason       string   `json:"reason"`
	Rule         string   `json:"rule"`
	Roles        []string `json:"roles"`
	TenantStatus string   `json:"tenant_status"`
}

func (c *cli) printResults(results []policy.CaseResult, casesPath string, asJSON bool) error {
	failed := 0
	st := c.style(c.out)
	for _, r := range results {
		if !r.Pass {
			failed++
		}
		d := r.Decision
		if asJSON {
			if err := jsonLine(c.out, caseJSON{Line: r.Case.Line, Subject: r.Case.Subject, Tenant: r.Case.Tenant,
				Object: r.Case.Object, Action: r.Case.Action, Expect: r.Case.Expect, Pass: r.Pass,
				Allowed: d.Allowed, Reason: string(d.Reason), Rule: d.Rule, Roles: jsonRoles(d.Roles), TenantStatus: string(d.TenantStatus)}); err != nil {
				return err
			}
			continue
		}
		if r.Pass {
			continue
		}
		fmt.Fprintf(c.out, "%s %s:%d: %s in %s, %s on %s: want %s, got %s\n", st.red("FAIL"), casesPath, r.Case.Line,
			r.Case.Subject, r.Case.Tenant, r.Case.Action, r.Case.Object, r.Case.Expect, outcome(d))
		fmt.Fprintf(c.out, "     rule:   %s\n", orNone(d.Rule))
		fmt.Fprintf(c.out, "     roles:  %s\n", roleChain(r.Case.Subject, d.Roles))
		fmt.Fprintf(c.out, "     tenant: %s is %s\n", r.Case.Tenant, d.TenantStatus)
	}
	if !asJSON {
		summary := fmt.Sprintf("%s: %d passed, %d failed", plural(len(results), "case", "cases"), len(results)-failed, failed)
		if failed > 0 {
			fmt.Fprintln(c.out, st.red(summary))
		} else {
			fmt.Fprintln(c.out, st.green(summary))
		}
	}
	if failed > 0 {
		return errFindings
	}
	return nil
}

// jsonRoles is a decision's role chain for --json: [] rather than null when
// the subject holds no role.
func jsonRoles(roles []string) []string {
	if roles == nil {
		return []string{}
	}
	return roles
}

// outcome renders a decision as "allow" or "deny (reason)".
func outcome(d policy.Decision) string {
	if d.Allowed {
		return "allow"
	}
	return "deny (" + string(d.Reason) + ")"
}

// roleChain renders "alice → owner → admin", or "alice holds no role".
func roleChain(subject string, roles []string) string {
	if len(roles) == 0 {
		return subject + " holds no role here"
	}
	return subject + " → " + strings.Join(roles, " → ")
}

// orNone renders an empty matched rule as "(none matched)".
func orNone(s string) string { return orDefault(s, "(none matched)") }

func (c *cli) matrixCommand() *cobra.Command {
	var files policyFiles
	var format string
	cmd := &cobra.Command{
		Use:   "matrix --policy FILE [--model FILE] [--format text|csv|markdown]",
		Short: "Show the decision for every role × ownership × tenant status × action",
		Long: `matrix decides every combination of a role (each role of the policy, and
none), whether the object belongs to the tenant (own), to another tenant
(other) or to nobody (unknown), the tenant's status (active, suspended,
deleted) and each action of the permission rows — the "verify embed routes for
all role permutations" of a staging check, in one command.

The cells are decided on synthetic users, tenants and objects with the
policy's permission and role-inheritance rows, so they show what the rules
allow, whatever users the policy holds today.`,
		Example: `  keyportal policy matrix --policy policy.csv
  keyportal policy matrix --policy policy.csv --format markdown > docs/access.md`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "csv" && format != "markdown" {
				return usageErrorf(cmd, "--format must be text, csv or markdown, not %q", format)
			}
			e, err := files.engine(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			c.lintNote(files)
			cells, err := e.Matrix(cmd.Context())
			if err != nil {
				return failf(fmt.Sprintf("Run 'keyportal policy lint%s': the matrix needs permission rows it can instantiate.", files.lintArgs()), "%v", err)
			}
			return c.printMatrix(cells, format)
		},
	}
	files.add(cmd, "tabulate")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, csv or markdown")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("text", "csv", "markdown"))
	return cmd
}

var matrixHeader = []string{"role", "ownership", "tenant_status", "action", "decision", "reason"}

func (c *cli) printMatrix(cells []policy.MatrixCell, format string) error {
	decision := func(d policy.Decision) string {
		if d.Allowed {
			return "allow"
		}
		return "deny"
	}
	switch format {
	case "csv":
		w := csv.NewWriter(c.out)
		_ = w.Write(matrixHeader)
		for _, m := range cells {
			_ = w.Write([]string{m.Role, string(m.Ownership), string(m.TenantStatus), m.Action, decision(m.Decision), string(m.Decision.Reason)})
		}
		w.Flush()
		return w.Error()
	case "markdown":
		fmt.Fprintln(c.out, "| role | ownership | tenant status | action | decision | reason |")
		fmt.Fprintln(c.out, "|---|---|---|---|---|---|")
		for _, m := range cells {
			d := decision(m.Decision)
			if m.Decision.Allowed {
				d = "**allow**"
			}
			fmt.Fprintf(c.out, "| %s | %s | %s | `%s` | %s | %s |\n", roleName(m.Role), m.Ownership, m.TenantStatus, m.Action, d, m.Decision.Reason)
		}
		return nil
	}
	st := c.style(c.out)
	tw := newTable(c.out)
	row(tw, st.bold("ROLE"), st.bold("OWNERSHIP"), st.bold("TENANT"), st.bold("ACTION"), st.bold("DECISION"), st.bold("REASON"))
	allowed := 0
	for _, m := range cells {
		d := st.red("deny ")
		if m.Decision.Allowed {
			d = st.green("allow")
			allowed++
		}
		row(tw, st.plain(roleName(m.Role)), st.plain(string(m.Ownership)), st.plain(string(m.TenantStatus)), st.plain(m.Action), d, st.plain(string(m.Decision.Reason)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s, %d allowed\n", plural(len(cells), "cell", "cells"), allowed)
	return nil
}

// roleName renders the empty role of a matrix row as "(none)".
func roleName(r string) string { return orDefault(r, "(none)") }

func (c *cli) explainCommand() *cobra.Command {
	var files policyFiles
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain SUBJECT TENANT OBJECT ACTION --policy FILE [--model FILE]",
		Short: "Explain one decision: the outcome, the rule, the role chain and the tenant status",
		Long: `explain decides one request the way the ticket route does and shows why: the
decision and its reason, the permission row that matched, the roles the
subject holds in the tenant (nearest first) and the tenant's status.

A denial is an answer, not a failure: explain exits 0 either way.`,
		Example: `  keyportal policy explain alice acme deployment:42 api_keys:manage --policy policy.csv
  keyportal policy explain frank acme deployment:42 api_keys:manage --policy policy.csv --json`,
		Args: exactArgs("SUBJECT", "TENANT", "OBJECT", "ACTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := files.engine(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			req := policy.Request{Subject: args[0], Tenant: args[1], Object: args[2], Action: args[3]}
			x, err := e.Explain(cmd.Context(), req)
			if err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			d := x.Decision
			if asJSON {
				steps := make([]map[string]any, len(x.Steps))
				for i, s := range x.Steps {
					steps[i] = map[string]any{"check": s.Check, "passed": s.Passed, "detail": s.Detail}
				}
				return jsonLine(c.out, map[string]any{
					"subject": req.Subject, "tenant": req.Tenant, "object": req.Object, "action": req.Action,
					"allowed": d.Allowed, "reason": d.Reason, "rule": d.Rule, "rule_line": x.RuleLine, "policy": x.PolicyPath,
					"roles": jsonRoles(d.Roles), "tenant_status": d.TenantStatus, "checks": steps,
				})
			}
			st := c.style(c.out)
			dec := st.red("deny")
			if d.Allowed {
				dec = st.green("allow")
			}
			rule := orNone(d.Rule)
			if x.RuleLine > 0 {
				rule += st.dim(fmt.Sprintf("  (%s:%d)", x.PolicyPath, x.RuleLine))
			}
			fmt.Fprintf(c.out, "decision:  %s (%s)\n", dec, d.Reason)
			fmt.Fprintf(c.out, "request:   %s in %s, %s on %s\n", req.Subject, req.Tenant, req.Action, req.Object)
			fmt.Fprintf(c.out, "rule:      %s\n", rule)
			fmt.Fprintf(c.out, "roles:     %s\n", roleChain(req.Subject, d.Roles))
			fmt.Fprintf(c.out, "tenant:    %s is %s\n", req.Tenant, d.TenantStatus)
			fmt.Fprintln(c.out, "checks:")
			for _, s := range x.Steps {
				mark := st.green("✓")
				if !s.Passed {
					mark = st.red("✗")
				}
				fmt.Fprintf(c.out, "  %s %-14s %s\n", mark, s.Check, s.Detail)
			}
			return nil
		},
	}
	files.add(cmd, "decide with")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decision as one JSON object")
	return cmd
}
