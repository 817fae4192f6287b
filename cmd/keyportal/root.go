package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/internal/httpserver"
)

// Exit codes of every command.
const (
	exitOK       = 0 // done, nothing found
	exitFindings = 1 // the command ran and found problems: lint errors, failing cases, refused changes
	exitUsage    = 2 // bad flags or arguments, unreadable files, unreachable store
)

// cli is one run of the command: its streams, environment and clock, so that
// tests run commands in-process with deterministic output.
type cli struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	getenv func(string) string
	// now is the clock for --since, relative times and the key store.
	now func() time.Time
	// color is the --color flag: auto, always or never.
	color string
	// pollInterval is how often `audit --follow` asks for new events.
	pollInterval time.Duration
	// onListen, when set, is told the address `serve` listens on.
	onListen func(addr string)
	// serverLimits are the timeouts and header bound of `serve`'s
	// listeners; zero fields mean internal/httpserver's defaults, tests
	// shorten them.
	serverLimits httpserver.Limits
}

func newCLI(in io.Reader, out, errOut io.Writer, getenv func(string) string) *cli {
	return &cli{in: in, out: out, errOut: errOut, getenv: getenv, now: time.Now, pollInterval: time.Second}
}

const rootLong = `keyportal embeds an API-key management page in your product's settings,
behind your own Casbin policy. This command is for the people around it:

  policy authors   keyportal policy lint | test | matrix | explain
  operators        keyportal serve, keyportal apps create | list | get | disable
  support          keyportal keys list | revoke, keyportal audit

Exit codes:
  0  success; for lint, no errors (warnings may have been printed)
  1  the command ran and found something: lint errors, failing test cases,
     a key or app that could not be changed
  2  usage or I/O error: bad flags or arguments, a file that cannot be read
     or parsed, a store or API that cannot be reached

Colour is used only when standard output is a terminal and NO_COLOR is unset
(override with --color). Commands that list things print an aligned table, or
one JSON object per line with --json.

Environment:
  KEYPORTAL_DB               SQLite file of the key store (default keyportal-data/keyportal.db)
  KEYPORTAL_POSTGRES_DSN     Postgres DSN, used instead of SQLite when set
  KEYPORTAL_POSTGRES_SCHEMA  Postgres schema of the key store (created if missing)
  WACHT_BACKEND_API_KEY      Wacht backend API key, for --wacht
  WACHT_BASE_URL             Wacht API base URL, for --wacht (default https://api.wacht.dev)
  NO_COLOR                   disable colour
  (serve reads more; see keyportal serve --help)`

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "keyportal",
		Short:         "Lint and test access policies, serve the key portal, manage apps, keys and the audit trail",
		Long:          rootLong,
		Example:       "  keyportal policy lint --policy policy.csv\n  keyportal serve --db ./keyportal.db\n  keyportal completion bash > /etc/bash_completion.d/keyportal",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if c.color != "auto" && c.color != "always" && c.color != "never" {
				return usageErrorf(cmd, "--color must be auto, always or never, not %q", c.color)
			}
			return nil
		},
	}
	root.SetIn(c.in)
	root.SetOut(c.out)
	root.SetErr(c.errOut)
	root.PersistentFlags().StringVar(&c.color, "color", "auto", "colour output: auto (only on a terminal, unless NO_COLOR is set), always or never")
	_ = root.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf(cmd, "%v", err)
	})
	root.AddCommand(c.policyCommand(), c.serveCommand(), c.appsCommand(), c.keysCommand(), c.auditCommand(), c.usageCommand(), c.loadCommand())
	root.InitDefaultCompletionCmd()
	for _, cmd := range root.Commands() {
		if cmd.Name() == "completion" {
			cmd.Example = "  keyportal completion bash > /etc/bash_completion.d/keyportal\n  keyportal completion zsh > \"${fpath[1]}/_keyportal\"\n  keyportal completion fish > ~/.config/fish/completions/keyportal.fish"
		}
	}
	return root
}

// run executes args and returns the exit code, having printed any error with
// what to do next.
func (c *cli) run(ctx context.Context, args []string) int {
	root := c.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own errors: an unknown command or a wrong argument count.
		ee = &exitError{code: exitUsage, msg: err.Error(), hint: fmt.Sprintf("Run '%s --help' for usage.", cmd.CommandPath())}
	}
	if !ee.silent {
		st := c.style(c.errOut)
		// An error can quote a store's or a remote API's text.
		fmt.Fprintf(c.errOut, "%s %s\n", st.red("error:"), printable(ee.msg))
		if ee.hint != "" {
			fmt.Fprintf(c.errOut, "  %s\n", printable(ee.hint))
		}
	}
	return ee.code
}

// exitError is an error with its exit code and a hint on what to do next.
type exitError struct {
	code   int
	msg    string
	hint   string
	silent bool // already reported on stdout (findings)
}

func (e *exitError) Error() string { return e.msg }

// errFindings ends a command that reported its findings itself.
var errFindings = &exitError{code: exitFindings, msg: "findings", silent: true}

// usageErrorf is a mistake in how the command was called.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...),
		hint: fmt.Sprintf("Run '%s --help' for usage and examples.", cmd.CommandPath())}
}

// failf is an I/O or environment failure (exit 2) with a hint.
func failf(hint, format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...), hint: hint}
}

// refusedf is a request the command could not carry out (exit 1).
func refusedf(hint, format string, args ...any) error {
	return &exitError{code: exitFindings, msg: fmt.Sprintf(format, args...), hint: hint}
}

// exactArgs is cobra.ExactArgs with a message naming the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageErrorf(cmd, "%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// group makes cmd the group of the subcommands subs: it refuses an unknown
// subcommand (groupArgs) and, run alone, shows its help (groupRun).
func group(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.Args, cmd.RunE = groupArgs, groupRun
	cmd.AddCommand(subs...)
	return cmd
}

// groupArgs refuses an unknown subcommand of a command group.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// groupRun shows the help of a command group called without a subcommand.
func groupRun(cmd *cobra.Command, _ []string) error { return cmd.Help() }
