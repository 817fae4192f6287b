package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
)

func (c *cli) appsCommand() *cobra.Command {
	return group(&cobra.Command{
		Use:   "apps",
		Short: "Provision and inspect API auth apps (one per deployment)",
		Long: `An API auth app holds the keys of one resource of your product, by convention
the deployment: slug aa_<deploymentId>, as in the guide's one-time
provisioning. The apps live in the local key store (--db, or --postgres) that
'keyportal serve' uses, or, with --wacht, at Wacht.`,
		Example: "  keyportal apps create --deployment 42 --tenant acme --name \"Acme Public API\" --key-prefix acme_live --origin https://app.acme.test\n  keyportal apps list --tenant acme",
	}, c.appsCreateCommand(), c.appsListCommand(), c.appsGetCommand(), c.appsDisableCommand())
}

func (c *cli) appsCreateCommand() *cobra.Command {
	var src sourceFlags
	var app keystore.App
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --deployment ID --tenant TENANT --name NAME --key-prefix PREFIX [--origin URL]...",
		Short: "Create the API auth app of a deployment (the one-time provisioning)",
		Long: `create provisions the API auth app whose keys the portal manages for one
deployment: slug aa_<deployment> unless --slug says otherwise, a display name,
the prefix every key starts with (acme_live → acme_live_<43 characters>), the
tenant that owns it and the origins allowed to embed its portal page
(--origin, repeatable; default KEYPORTAL_ALLOWED_ORIGINS, comma-separated).

With --wacht the app is created through Wacht's backend API instead
(WACHT_BACKEND_API_KEY, WACHT_BASE_URL): at Wacht, or at a 'keyportal serve'
elsewhere. The tenant is sent as organization_id, which keyportal's backend API
reads as the tenant; --deployment and --origin are sent as keyportal's
extension fields deployment_id and allowed_origins (a keyportal server gives
apps created without origins its --allowed-origins; Wacht keeps no origins,
and the command says so when the answer has none).`,
		Example: `  keyportal apps create --deployment 42 --tenant acme --name "Acme Public API" \
      --key-prefix acme_live --description "API keys for deployment 42" \
      --origin http://127.0.0.1:8080
  WACHT_BACKEND_API_KEY=... keyportal apps create --wacht --deployment 42 --name "Acme Public API" --key-prefix acme_live`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if app.Slug == "" && app.DeploymentID == "" {
				return usageErrorf(cmd, "--deployment (or --slug) is required: the app's slug is aa_<deployment>")
			}
			if app.Slug == "" {
				app.Slug = "aa_" + app.DeploymentID
			}
			var missing []string
			if app.Name == "" {
				missing = append(missing, "--name")
			}
			if app.KeyPrefix == "" {
				missing = append(missing, "--key-prefix")
			}
			if app.Tenant == "" && !src.wacht.on {
				missing = append(missing, "--tenant")
			}
			if len(missing) > 0 {
				verb := "is"
				if len(missing) > 1 {
					verb = "are"
				}
				return usageErrorf(cmd, "%s %s required", strings.Join(missing, ", "), verb)
			}
			if !cmd.Flags().Changed("origin") {
				app.AllowedOrigins = splitList(c.getenv("KEYPORTAL_ALLOWED_ORIGINS"))
			}
			ctx := cmd.Context()
			view, raw, err := src.app(ctx, c, true, "create app "+app.Slug, func(cl *wacht.Client) (wacht.App, error) {
				return cl.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: app.Slug, Name: app.Name,
					KeyPrefix: app.KeyPrefix, Description: app.Description, Permissions: app.Permissions, OrganizationID: app.Tenant,
					DeploymentID: app.DeploymentID, AllowedOrigins: app.AllowedOrigins})
			}, func(s keystore.Store) (keystore.App, error) {
				return s.CreateApp(ctx, app, cliActor)
			})
			if err != nil {
				return err
			}
			if asJSON {
				return jsonLine(c.out, raw)
			}
			c.reportCreated(view, app.AllowedOrigins, src.wacht.on)
			return nil
		},
	}
	src.add(cmd)
	f := cmd.Flags()
	f.StringVar(&app.DeploymentID, "deployment", "", "deployment id; the slug becomes aa_<id>")
	f.StringVar(&app.Slug, "slug", "", "app slug (default aa_<deployment>)")
	f.StringVar(&app.Name, "name", "", "display name, e.g. \"Acme Public API\" (required)")
	f.StringVar(&app.KeyPrefix, "key-prefix", "", "prefix of every key, e.g. acme_live (required)")
	f.StringVar(&app.Description, "description", "", "description shown with the app")
	f.StringVar(&app.Tenant, "tenant", "", "tenant that owns the deployment (required for the local store; organization_id with --wacht)")
	f.StringArrayVar(&app.AllowedOrigins, "origin", nil, "origin allowed to embed the portal page, scheme://host[:port] (repeatable)")
	f.StringArrayVar(&app.Permissions, "permission", nil, "permission keys of this app may be given (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the app as one JSON object")
	return cmd
}

func (c *cli) appsListCommand() *cobra.Command {
	var src sourceFlags
	var filter keystore.AppFilter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--tenant TENANT] [--all]",
		Short: "List API auth apps",
		Long:  "list shows the apps of the key store (or, with --wacht, at Wacht): active ones unless --all.",
		Example: `  keyportal apps list
  keyportal apps list --tenant acme --all --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if src.wacht.on && filter.Tenant != "" {
				return usageErrorf(cmd, "--tenant filters the local store; --wacht lists every app the backend API key may see")
			}
			var apps []appView
			var raw []any
			err := src.use(cmd.Context(), c, false, func(cl *wacht.Client) error {
				got, err := cl.ListApps(cmd.Context(), filter.IncludeInactive)
				if err != nil {
					return storeError(err, "list apps")
				}
				for _, a := range got {
					apps, raw = append(apps, fromWacht(a)), append(raw, a)
				}
				return nil
			}, func(s keystore.Store) error {
				got, err := s.ListApps(cmd.Context(), filter)
				if err != nil {
					return storeError(err, "list apps")
				}
				for _, a := range got {
					apps, raw = append(apps, fromLocal(a)), append(raw, a)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return printList(c, asJSON, raw, apps, "no apps; create one with 'keyportal apps create'",
				[]string{"SLUG", "DEPLOYMENT", "TENANT", "NAME", "PREFIX", "STATUS", "ORIGINS", "CREATED"},
				func(st style, a appView) []string {
					return []string{st.plain(a.slug), st.plain(orDash(a.deployment)), st.plain(orDash(a.tenant)), st.plain(a.name), st.plain(a.prefix),
						st.paint(statusColor(a.status), a.status), st.plain(a.originList(",")), st.plain(fmtTime(a.created))}
				}, nil)
		},
	}
	src.add(cmd)
	cmd.Flags().StringVar(&filter.Tenant, "tenant", "", "only this tenant's apps (local store)")
	cmd.Flags().BoolVar(&filter.IncludeInactive, "all", false, "include disabled and deleted apps")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per app")
	return cmd
}

func (c *cli) appsGetCommand() *cobra.Command {
	var src sourceFlags
	var asJSON bool
	var name appName
	cmd := &cobra.Command{
		Use:   "get SLUG | --deployment ID",
		Short: "Show one API auth app",
		Example: `  keyportal apps get aa_42
  keyportal apps get --deployment 42 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			slug, err := name.slug(cmd, args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			view, raw, err := src.app(ctx, c, false, "app "+slug, func(cl *wacht.Client) (wacht.App, error) {
				return cl.GetApp(ctx, slug)
			}, func(s keystore.Store) (keystore.App, error) {
				return s.GetApp(ctx, slug)
			})
			if err != nil {
				return err
			}
			if asJSON {
				return jsonLine(c.out, raw)
			}
			c.printApp(c.out, view)
			return nil
		},
	}
	src.add(cmd)
	name.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the app as one JSON object")
	return cmd
}

func (c *cli) appsDisableCommand() *cobra.Command {
	var src sourceFlags
	var name appName
	cmd := &cobra.Command{
		Use:   "disable SLUG | --deployment ID",
		Short: "Disable an API auth app: its keys stop working and its portal refuses tickets",
		Long: `disable marks the app inactive. Every server on the same store stops
verifying its keys and issuing tickets for it within a second (Postgres:
milliseconds; SQLite: at the server's next look at the file, every 100 ms),
and the change is in the audit trail (actor "cli"). Nothing is deleted: the
keys and their history stay.`,
		Example: `  keyportal apps disable aa_42
  keyportal apps disable --deployment 42 --wacht`,
		RunE: func(cmd *cobra.Command, args []string) error {
			slug, err := name.slug(cmd, args)
			if err != nil {
				return err
			}
			inactive := false
			already := func() error {
				return refusedf("See it with 'keyportal apps get "+slug+"'.", "app %s is already disabled", slug)
			}
			err = src.use(cmd.Context(), c, false, func(cl *wacht.Client) error {
				a, err := cl.GetApp(cmd.Context(), slug)
				if err != nil {
					return storeError(err, "app "+slug)
				}
				if !a.IsActive || !a.DeletedAt.IsZero() {
					return already()
				}
				if _, err := cl.UpdateApp(cmd.Context(), slug, wacht.UpdateAppRequest{IsActive: &inactive}); err != nil {
					return storeError(err, "disable app "+slug)
				}
				return nil
			}, func(s keystore.Store) error {
				a, err := s.GetApp(cmd.Context(), slug)
				if err != nil {
					return storeError(err, "app "+slug)
				}
				if !a.Usable() {
					return already()
				}
				if _, err := s.UpdateApp(cmd.Context(), slug, keystore.AppPatch{IsActive: &inactive}, cliActor); err != nil {
					return storeError(err, "disable app "+slug)
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "disabled app %s: its keys no longer verify and its portal accepts no tickets\n", slug)
			return nil
		},
	}
	src.add(cmd)
	name.add(cmd)
	return cmd
}

// reportCreated prints the app just created, and a note on stderr when it
// has no origins: none were given, or Wacht kept none of those asked for.
func (c *cli) reportCreated(a appView, asked []string, atWacht bool) {
	at := ""
	if atWacht {
		at = " at Wacht"
	}
	fmt.Fprintf(c.out, "created app %s%s\n", a.slug, at)
	c.printApp(c.out, a)
	switch {
	case atWacht && len(asked) > 0 && a.originsUnknown:
		fmt.Fprintln(c.errOut, "note: the server answered no allowed_origins (Wacht keeps no embedder origins): the origins were not stored")
	case !atWacht && len(a.origins) == 0:
		fmt.Fprintln(c.errOut, "note: no --origin given: no page may embed this app's portal until you add one")
	}
}

// app gets one app as use does: from Wacht with atWacht, else from the
// local store with local. It returns the app as the tables show it and as
// it came, for --json; what names the step in a failure.
func (f *sourceFlags) app(ctx context.Context, c *cli, create bool, what string,
	atWacht func(*wacht.Client) (wacht.App, error), local func(keystore.Store) (keystore.App, error)) (appView, any, error) {
	var view appView
	var raw any
	err := f.use(ctx, c, create, func(cl *wacht.Client) error {
		a, err := atWacht(cl)
		if err != nil {
			return storeError(err, what)
		}
		view, raw = fromWacht(a), a
		return nil
	}, func(s keystore.Store) error {
		a, err := local(s)
		if err != nil {
			return storeError(err, what)
		}
		view, raw = fromLocal(a), a
		return nil
	})
	return view, raw, err
}

// appName names one app, as SLUG or --deployment ID.
type appName struct{ deployment string }

func (n *appName) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&n.deployment, "deployment", "", "deployment id, instead of SLUG (aa_<id>)")
}

// slug takes the app slug from the one argument or --deployment.
func (n *appName) slug(cmd *cobra.Command, args []string) (string, error) {
	switch {
	case len(args) == 1 && n.deployment == "":
		return args[0], nil
	case len(args) == 0 && n.deployment != "":
		return "aa_" + n.deployment, nil
	}
	return "", usageErrorf(cmd, "name the app by its SLUG or by --deployment ID, one of the two")
}

// appView is what the tables show of an app, local or at Wacht.
type appView struct {
	slug, deployment, tenant, name, prefix, description, status string
	origins, permissions                                        []string
	created, updated                                            time.Time
	// originsUnknown is set for an app read through Wacht's API whose
	// answer had no allowed_origins (Wacht has no field for embedder origins).
	originsUnknown bool
}

// originList renders the origins, or says the API does not tell them.
func (a appView) originList(sep string) string {
	if a.originsUnknown {
		return "n/a"
	}
	return orDash(strings.Join(a.origins, sep))
}

func fromLocal(a keystore.App) appView {
	v := appView{slug: a.Slug, deployment: a.DeploymentID, tenant: a.Tenant, name: a.Name, prefix: a.KeyPrefix,
		description: a.Description, origins: a.AllowedOrigins, permissions: a.Permissions, created: a.CreatedAt, updated: a.UpdatedAt}
	v.status = appStatus(a.DeletedAt != nil, a.IsActive)
	return v
}

func fromWacht(a wacht.App) appView {
	v := appView{slug: a.AppSlug, deployment: a.DeploymentID, tenant: a.OrganizationID, name: a.Name, prefix: a.KeyPrefix,
		description: a.Description, origins: a.AllowedOrigins, permissions: a.Permissions, created: a.CreatedAt, updated: a.UpdatedAt,
		originsUnknown: a.AllowedOrigins == nil}
	v.status = appStatus(!a.DeletedAt.IsZero(), a.IsActive)
	return v
}

// appStatus names an app's state: deleted, disabled or active.
func appStatus(deleted, active bool) string {
	switch {
	case deleted:
		return "deleted"
	case !active:
		return "disabled"
	}
	return "active"
}

func (c *cli) printApp(w io.Writer, a appView) {
	st := c.style(w)
	field := func(label, value string) { fmt.Fprintf(w, "  %-14s%s\n", label+":", printable(value)) }
	field("slug", a.slug)
	field("deployment", orDash(a.deployment))
	field("tenant", orDash(a.tenant))
	field("name", a.name)
	field("key prefix", a.prefix)
	field("description", orDash(a.description))
	fmt.Fprintf(w, "  %-14s%s\n", "status:", st.paint(statusColor(a.status), a.status))
	field("origins", a.originList(", "))
	field("permissions", orDash(strings.Join(a.permissions, ", ")))
	field("created", fmtTime(a.created))
}

// statusColor is the SGR code of a status word.
func statusColor(status string) string {
	switch status {
	case "active":
		return "32"
	case "expired", "disabled":
		return "33"
	case "revoked", "deleted":
		return "31"
	}
	return "39"
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
