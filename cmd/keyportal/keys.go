package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
)

func (c *cli) keysCommand() *cobra.Command {
	return group(&cobra.Command{
		Use:   "keys",
		Short: "List and revoke API keys (support tooling)",
		Long: `Support tooling for the keys users made in the portal: list them by app or
tenant, and revoke them (servers on the same store refuse a revoked key
within a second, and it is recorded in the audit trail with actor "cli" and
your reason). Secrets are never shown: the store keeps only their hash.`,
		Example: "  keyportal keys list --tenant acme\n  keyportal keys revoke key_abc --app aa_42 --reason \"leaked in a public repo\"",
	}, c.keysListCommand(), c.keysRevokeCommand())
}

// keyView is what the table shows of a key.
type keyView struct {
	id, app, tenant, name, key, status, createdBy string
	created, lastUsed, expires                    string
}

func (c *cli) viewLocalKey(k keystore.Key) keyView {
	return keyView{id: k.ID, app: k.AppSlug, tenant: k.Tenant, name: k.Name, key: k.KeyPrefix + "_…" + k.KeySuffix,
		status: string(k.StatusAt(c.now())), createdBy: orDash(k.CreatedBy), created: fmtTime(k.CreatedAt),
		lastUsed: fmtTimePtr(k.LastUsedAt), expires: fmtTimePtr(k.ExpiresAt)}
}

// wachtKeyStatus is a Wacht key's state now, named as the local store's
// keystore.KeyStatus values are.
func (c *cli) wachtKeyStatus(k wacht.Key) string {
	switch {
	case !k.IsActive:
		return "revoked"
	case !k.ExpiresAt.IsZero() && !c.now().Before(k.ExpiresAt):
		return "expired"
	}
	return "active"
}

func (c *cli) viewWachtKey(k wacht.Key) keyView {
	status := c.wachtKeyStatus(k)
	return keyView{id: k.ID, app: k.AppSlug, tenant: orDash(k.OrganizationID), name: k.Name, key: k.KeyPrefix + "_…" + k.KeySuffix,
		status: status, createdBy: "-", created: fmtTime(k.CreatedAt), lastUsed: fmtTime(k.LastUsedAt), expires: fmtTime(k.ExpiresAt)}
}

func (c *cli) keysListCommand() *cobra.Command {
	var src sourceFlags
	var filter keystore.KeyFilter
	var status string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--app SLUG] [--tenant TENANT] [--status active|revoked|expired|all]",
		Short: "List API keys by app or tenant",
		Example: `  keyportal keys list --app aa_42
  keyportal keys list --tenant acme --status active --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{"active", "revoked", "expired", "all"}, status) {
				return usageErrorf(cmd, "--status must be active, revoked, expired or all, not %q", status)
			}
			filter.Status = keystore.KeyStatus(status)
			if src.wacht.on && (filter.AppSlug == "" || filter.Tenant != "") {
				return usageErrorf(cmd, "--wacht lists one app's keys: pass --app SLUG, without --tenant (Wacht knows no tenants)")
			}
			var views []keyView
			var raw []any
			err := src.use(cmd.Context(), c, false, func(cl *wacht.Client) error {
				got, err := cl.ListKeys(cmd.Context(), filter.AppSlug, status != "active")
				if err != nil {
					return storeError(err, "list keys of "+filter.AppSlug)
				}
				for _, k := range got {
					v := c.viewWachtKey(k)
					if status == "all" || v.status == status {
						views, raw = append(views, v), append(raw, k)
					}
				}
				return nil
			}, func(s keystore.Store) error {
				got, err := allKeys(cmd.Context(), s, filter)
				if err != nil {
					return storeError(err, "list keys")
				}
				for _, k := range got {
					views, raw = append(views, c.viewLocalKey(k)), append(raw, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return printList(c, asJSON, raw, views, "no keys match",
				[]string{"ID", "APP", "TENANT", "NAME", "KEY", "STATUS", "CREATED", "BY", "LAST USED", "EXPIRES"},
				func(st style, k keyView) []string {
					return []string{st.plain(k.id), st.plain(k.app), st.plain(k.tenant), st.plain(k.name), st.plain(k.key),
						st.paint(statusColor(k.status), k.status), st.plain(k.created), st.plain(k.createdBy), st.plain(k.lastUsed), st.plain(k.expires)}
				}, func(n int) string { return plural(n, "key", "keys") })
		},
	}
	src.add(cmd)
	cmd.Flags().StringVar(&filter.AppSlug, "app", "", "only this app's keys (slug, e.g. aa_42)")
	cmd.Flags().StringVar(&filter.Tenant, "tenant", "", "only this tenant's keys (local store)")
	cmd.Flags().StringVar(&status, "status", "all", "active, revoked, expired or all")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("active", "revoked", "expired", "all"))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per key")
	return cmd
}

func (c *cli) keysRevokeCommand() *cobra.Command {
	var src sourceFlags
	var app, tenant, reason string
	var all bool
	cmd := &cobra.Command{
		Use:   "revoke (KEY_ID... | --all) (--app SLUG | --tenant TENANT) --reason TEXT",
		Short: "Revoke keys at once, with a reason for the audit trail",
		Long: `revoke ends keys at once: every server on the same store refuses them
within a second (Postgres: milliseconds; SQLite: at the server's next look
at the file, every 100 ms). Name the keys by id (see 'keyportal keys list')
within --app or --tenant, or revoke every active key of the app or tenant
with --all (a leaked deployment, an offboarded tenant). --reason is required
and goes to the audit trail with actor "cli". It exits 1 if a key was not
found or already revoked.`,
		Example: `  keyportal keys revoke key_3kq... --app aa_42 --reason "leaked in a public repo"
  keyportal keys revoke --all --tenant umbrella --reason "tenant deleted"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case reason == "":
				return usageErrorf(cmd, "--reason is required: say why, for the audit trail")
			case app == "" && tenant == "":
				return usageErrorf(cmd, "pass --app SLUG or --tenant TENANT to say where the keys are")
			case all && len(args) > 0:
				return usageErrorf(cmd, "give KEY_IDs or --all, not both")
			case !all && len(args) == 0:
				return usageErrorf(cmd, "name the keys to revoke by id, or pass --all")
			}
			if src.wacht.on && (app == "" || tenant != "") {
				return usageErrorf(cmd, "--wacht revokes one app's keys: pass --app SLUG (Wacht knows no tenants)")
			}
			return src.use(cmd.Context(), c, false, func(cl *wacht.Client) error {
				return c.revokeAtWacht(cmd, cl, app, reason, all, args)
			}, func(s keystore.Store) error {
				return c.revokeLocal(cmd, s, app, tenant, reason, all, args)
			})
		},
	}
	src.add(cmd)
	cmd.Flags().StringVar(&app, "app", "", "the keys' app (slug, e.g. aa_42)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the keys' tenant")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail (required)")
	cmd.Flags().BoolVar(&all, "all", false, "revoke every active key of the app or tenant")
	return cmd
}

// revokeLocal revokes keys of an app or a tenant in the local store.
func (c *cli) revokeLocal(cmd *cobra.Command, s keystore.Store, app, tenant, reason string, all bool, args []string) error {
	keys, err := allKeys(cmd.Context(), s, keystore.KeyFilter{AppSlug: app, Tenant: tenant, Status: keystore.KeyAll})
	if err != nil {
		return storeError(err, "list keys")
	}
	var targets []keystore.Key
	failed := 0
	if all {
		for _, k := range keys {
			if k.StatusAt(c.now()) == keystore.KeyActive {
				targets = append(targets, k)
			}
		}
		if len(targets) == 0 {
			fmt.Fprintln(c.out, "no active keys to revoke")
			return nil
		}
	} else {
		for _, id := range args {
			i := slices.IndexFunc(keys, func(k keystore.Key) bool { return k.ID == id })
			if i < 0 {
				fmt.Fprintln(c.errOut, printable(fmt.Sprintf("key %s: not found in %s", id, where(app, tenant))))
				failed++
				continue
			}
			targets = append(targets, keys[i])
		}
	}
	st := c.style(c.out)
	for _, k := range targets {
		if _, err := s.RevokeKey(cmd.Context(), k.AppSlug, k.ID, reason, cliActor); err != nil {
			e := storeError(err, "key "+k.ID)
			fmt.Fprintln(c.errOut, printable(e.Error()))
			failed++
			continue
		}
		fmt.Fprintf(c.out, "%s %s\n", st.red("revoked"), printable(fmt.Sprintf("%s (%s, %s_…%s) of %s", k.ID, k.Name, k.KeyPrefix, k.KeySuffix, k.AppSlug)))
	}
	if failed > 0 {
		return refusedf("See the keys with 'keyportal keys list "+whereFlags(app, tenant)+"'.", "%s not revoked", plural(failed, "key was", "keys were"))
	}
	return nil
}

// revokeAtWacht revokes keys of one app at Wacht.
func (c *cli) revokeAtWacht(cmd *cobra.Command, cl *wacht.Client, app, reason string, all bool, ids []string) error {
	if all {
		keys, err := cl.ListKeys(cmd.Context(), app, false)
		if err != nil {
			return storeError(err, "list keys of "+app)
		}
		ids = ids[:0]
		for _, k := range keys {
			if c.wachtKeyStatus(k) == "active" {
				ids = append(ids, k.ID)
			}
		}
		if len(ids) == 0 {
			fmt.Fprintln(c.out, "no active keys to revoke")
			return nil
		}
	}
	st := c.style(c.out)
	failed := 0
	for _, id := range ids {
		if err := cl.RevokeKey(cmd.Context(), app, id, reason); err != nil {
			fmt.Fprintln(c.errOut, printable(storeError(err, "key "+id).Error()))
			failed++
			continue
		}
		fmt.Fprintf(c.out, "%s %s\n", st.red("revoked"), printable(id+" of "+app))
	}
	if failed > 0 {
		return refusedf("See the keys with 'keyportal keys list --wacht --app "+app+"'.", "%s not revoked", plural(failed, "key was", "keys were"))
	}
	return nil
}

// allKeys lists every key f selects, following the store's pages to the end.
func allKeys(ctx context.Context, s keystore.Store, f keystore.KeyFilter) ([]keystore.Key, error) {
	f.Limit = keystore.MaxKeyLimit
	var keys []keystore.Key
	for {
		page, err := s.ListKeys(ctx, f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, page.Keys...)
		if page.NextCursor == "" {
			return keys, nil
		}
		f.Cursor = page.NextCursor
	}
}

func where(app, tenant string) string {
	if app != "" {
		return "app " + app
	}
	return "tenant " + tenant
}

func whereFlags(app, tenant string) string {
	if app != "" {
		return "--app " + app
	}
	return "--tenant " + tenant
}
