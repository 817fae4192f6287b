package portal

import (
	"context"
	"html"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyportal/keyportal/internal/msgtable"
	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// french overrides every text of the page.
var french = Messages{
	Lang:             "fr",
	Title:            "Clés d’API",
	ErrorNoTicket:    "Cette page s’ouvre depuis les réglages de votre application.",
	ErrorBadLink:     "Ce lien n’est pas valide. Rouvrez les clés d’API depuis votre application.",
	ErrorUnavailable: "Le portail des clés est indisponible. Réessayez dans un instant.",
	ErrorAppGone:     "Cette application n’existe plus.",
	NoScript:         "Cette page a besoin de JavaScript pour gérer vos clés.",

	CreateKey:    "Créer une clé",
	Sections:     "Rubriques",
	TabKeys:      "Clés",
	TabActivity:  "Activité",
	ShowKeys:     "Afficher les clés",
	Active:       "Actives",
	Revoked:      "Révoquées",
	Expired:      "Expirées",
	All:          "Toutes",
	KeysCaption:  "Clés d’API de {app}",
	ColName:      "Nom",
	ColKey:       "Clé",
	ColCreated:   "Créée le",
	ColCreatedBy: "Créée par",
	ColLastUsed:  "Dernière utilisation",
	ColExpires:   "Expire le",
	ColStatus:    "État",
	ColActions:   "Gestes",
	LoadingKeys:  "Chargement des clés…",
	EmptyActive:  "Aucune clé active pour l’instant.",
	EmptyRevoked: "Aucune clé révoquée pour l’instant.",
	EmptyExpired: "Aucune clé expirée pour l’instant.",
	EmptyAll:     "Aucune clé pour l’instant.",
	LoadMore:     "Afficher plus",
	Never:        "Jamais",
	RotatedUntil: "Remplacée · valable jusqu’au {time}",
	Rotate:       "Remplacer",
	Revoke:       "Révoquer",

	CreateTitle:  "Créer une clé d’API",
	NameHint:     "Dites où elle sert, par exemple « facturation ».",
	ExpiresOn:    "Expire le",
	Optional:     "(facultatif)",
	Cancel:       "Annuler",
	NameRequired: "Donnez un nom à la clé.",
	DateInPast:   "Choisissez une date future, ou laissez vide.",

	SecretNew:     "Copiez votre nouvelle clé",
	SecretRotated: "Copiez la clé de remplacement",
	SecretWarning: "La clé n’est montrée qu’une fois. Copiez-la et gardez-la en lieu sûr.",
	SecretLabel:   "Clé secrète",
	Copy:          "Copier",
	Copied:        "Copiée dans le presse-papiers.",
	CopyByHand:    "Sélectionnez la clé et copiez-la au clavier.",
	SecretDone:    "C’est fait, je l’ai copiée",

	RotateTitle: "Remplacer la clé",
	RotateText:  "Une nouvelle clé remplace {name}, avec les mêmes droits.",
	LastUsed:    "La clé actuelle a servi pour la dernière fois le {time}.",
	NeverUsed:   "La clé actuelle n’a jamais servi.",
	GraceLegend: "Garder l’ancienne clé valable pendant",
	GraceNone:   "Aucun délai : l’arrêter maintenant",
	Grace1h:     "1 heure",
	Grace24h:    "24 heures",
	Grace7d:     "7 jours",

	RevokeTitle: "Révoquer la clé",
	RevokeText:  "Les requêtes avec {name} échouent dès la prochaine. C’est définitif.",
	Reason:      "Motif",
	KeyRevoked:  "Clé « {name} » révoquée.",

	SessionEnded:        "Votre session a pris fin. Reconnexion…",
	AccessWithdrawn:     "L’accès à ces clés vous a été retiré.",
	LinkInvalid:         "Ce lien n’est pas valide.",
	Unreachable:         "Le portail des clés est injoignable.",
	LinkExpired:         "Ce lien a expiré.",
	LinkUsed:            "Ce lien a déjà servi.",
	ErrorRateLimited:    "Trop de changements de clés en peu de temps. Réessayez dans {seconds} s.",
	ErrorKeyLimit:       "Cette application a déjà autant de clés actives que permis.",
	ErrorKeyGone:        "Cette clé n’existe plus.",
	ErrorAlreadyRevoked: "Cette clé est déjà révoquée.",
	SomethingWrong:      "Une erreur est survenue ({status}).",

	ShowOlder:         "Plus ancien",
	ActivityEmpty:     "Rien ne s’est encore passé.",
	Someone:           "Quelqu’un",
	ActKeyCreated:     "{actor} a créé une clé",
	ActKeyRotated:     "{actor} a remplacé une clé",
	ActKeyRevoked:     "{actor} a révoqué une clé",
	ActExchanged:      "{actor} a ouvert le portail des clés",
	ActRejected:       "{actor} s’est vu refuser le portail des clés",
	ActSessionExpired: "{actor} : session du portail terminée",

	TabOverview:      "Vue d’ensemble",
	TabAccess:        "Journal des accès",
	Dates:            "Période (UTC)",
	RangeFrom:        "Du",
	RangeTo:          "au",
	InUTC:            "Jours et heures en temps universel (UTC)",
	RangeOrder:       "Choisissez un premier jour qui ne suit pas le dernier.",
	RangeTooLong:     "Choisissez au plus {days} jours.",
	LoadingUsage:     "Chargement de l’utilisation…",
	UsageNotRecorded: "L’utilisation n’est pas enregistrée pour cette application.",
	AllRequests:      "Toutes les requêtes",
	Allowed:          "Autorisées",
	Blocked:          "Bloquées",
	KeysUsed24h:      "Clés utilisées ces dernières 24 heures",
	UsageShed:        "{count} vérifications non enregistrées (surcharge).",
	ChartTitle:       "Requêtes par jour (UTC)",
	ChartSummary:     "Du {from} au {to} : {allowed} autorisées, {blocked} bloquées.",
	ChartEmpty:       "Aucun jour.",
	ChartDay:         "{day} : {allowed} autorisées, {blocked} bloquées",
	ShowNumbers:      "Afficher les chiffres",
	ColDay:           "Jour",
	BlockedReasons:   "Pourquoi des requêtes ont été bloquées",
	ReasonCount:      "{reason} : {count}",
	ReasonNone:       "motif non enregistré",
	RateLimits:       "Limites de débit",
	RateScheme:       "Formule : {scheme}",
	NoRateLimits:     "Aucune limite de débit.",
	RateRule:         "{max} requêtes par {period}, {scope}",
	PeriodSecond:     "seconde",
	PeriodSeconds:    "tranche de {count} secondes",
	PeriodMinute:     "minute",
	PeriodMinutes:    "tranche de {count} minutes",
	PeriodHour:       "heure",
	PeriodHours:      "tranche de {count} heures",
	PeriodDay:        "jour",
	PeriodDays:       "tranche de {count} jours",
	PeriodMillis:     "tranche de {count} ms",
	ScopeKey:         "par clé",
	ScopeApp:         "pour toute l’application",
	ScopeIP:          "par adresse IP cliente",
	ShowRequests:     "Afficher les requêtes",
	OutcomeAll:       "Toutes",
	NoKey:            "Sans clé",
	AccessEmpty:      "Aucune requête ces jours-là.",
	AccessOlder:      "Plus anciennes",
}

// englishLeaks returns the English texts of the page that page shows
// (unescaped), of the texts long enough to be told from markup, and the
// short ones as whole element texts.
func englishLeaks(page string) []string {
	var leaks []string
	en := reflect.ValueOf(EnglishMessages())
	for i := range en.NumField() {
		s := en.Field(i).String()
		if before, _, ok := strings.Cut(s, "{"); ok {
			s = strings.TrimSpace(before)
		}
		if s == "" || s == "en" {
			continue
		}
		if len(s) >= 8 && strings.Contains(page, s) || strings.Contains(page, ">"+s+"<") || strings.Contains(page, "> "+s+"<") {
			leaks = append(leaks, s)
		}
	}
	return leaks
}

// TestPageInFrench: an app whose texts are French gets a page in French:
// its lang, its server-rendered texts, the texts its script shows, and no
// English text.
func TestPageInFrench(t *testing.T) {
	if missing := len(msgtable.Keys[Messages]()) - len(msgtable.ToMap(french)); missing != 0 {
		t.Fatalf("the French sample leaves %d texts out", missing)
	}
	e := newEnv(t, envOptions{})
	a := keystore.App{Slug: "aa_42", Name: "Acme", KeyPrefix: "kp_acme", Tenant: "acme", AllowedOrigins: []string{originA},
		Messages: msgtable.ToMap(french)}
	if _, err := e.store.CreateApp(context.Background(), a, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	res, body := get(t, e.portal.TicketURL(tk.Ticket))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	page := html.UnescapeString(string(body))
	for _, want := range []string{
		`<html lang="fr"`, `<title>Clés d’API · Acme</title>`, `<h1>Clés d’API</h1>`, `>Créer une clé</button>`,
		`<caption class="sr-only">Clés d’API de Acme</caption>`, `<th scope="col">Dernière utilisation</th>`,
		`<p>Une nouvelle clé remplace <strong id="rotate-name"></strong>, avec les mêmes droits.</p>`,
		`<p>Les requêtes avec <strong id="revoke-name"></strong> échouent dès la prochaine. C’est définitif.</p>`,
		`> 7 jours</label>`, `>Annuler</button>`, `data-messages="{`, `"empty_active":"Aucune clé active pour l’instant."`,
		`>Vue d’ensemble</button>`, `>Journal des accès</button>`, `aria-label="Période (UTC)"`, `<label>Du <input type="date"`,
		`<dt>Clés utilisées ces dernières 24 heures</dt>`, `<th scope="col">Jour</th><th scope="col">Autorisées</th>`,
		`<h2>Limites de débit</h2>`, `data-testid="outcome-all">Toutes</button>`, `"rate_rule":"{max} requêtes par {period}, {scope}"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if leaks := englishLeaks(page); len(leaks) > 0 {
		t.Errorf("English texts on the French page: %q", leaks)
	}
}

// TestPageMessagesLayers: Config.Messages applies to every app, an app's
// own texts win over it, and a page that knows no app yet (no ticket)
// speaks Config's.
func TestPageMessagesLayers(t *testing.T) {
	de := Messages{Lang: "de", Title: "API-Schlüssel", ErrorNoTicket: "Diese Seite öffnet sich aus den Einstellungen Ihrer App."}
	e := newEnv(t, envOptions{messages: de})
	e.app("aa_42", "acme", originA)
	a := keystore.App{Slug: "aa_77", Name: "Globex", KeyPrefix: "kp_globex", Tenant: "globex", AllowedOrigins: []string{originB},
		Messages: map[string]string{"lang": "fr", "create_key": "Créer une clé"}}
	if _, err := e.store.CreateApp(context.Background(), a, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	page := func(tk string) string {
		_, body := get(t, e.portal.TicketURL(tk))
		return html.UnescapeString(string(body))
	}
	acme := page(e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}).Ticket)
	globex := page(e.issue(ticket.Request{AppSlug: "aa_77", Tenant: "globex", Subject: "frank", EmbedderOrigin: originB}).Ticket)
	for _, c := range []struct {
		page string
		want []string
	}{
		{acme, []string{`<html lang="de"`, `<h1>API-Schlüssel</h1>`, `>Create key</button>`}},
		{globex, []string{`<html lang="fr"`, `<h1>API-Schlüssel</h1>`, `>Créer une clé</button>`}},
		{page(""), []string{`<html lang="de"`, `<p>Diese Seite öffnet sich aus den Einstellungen Ihrer App.</p>`}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.page, w) {
				t.Errorf("page lacks %s", w)
			}
		}
	}
}

// TestNewRefusesBadMessages: a Config.Messages text that could disguise
// what the page shows is refused at New, naming the key.
func TestNewRefusesBadMessages(t *testing.T) {
	st := newEnv(t, envOptions{}).store
	_, err := New(Config{Store: st, BaseURL: "http://localhost:8081", Messages: Messages{Revoke: "Re\u202evoke"}})
	if err == nil || !strings.Contains(err.Error(), "revoke") {
		t.Fatalf("New = %v, want an error naming revoke", err)
	}
}

// TestBrowserInFrench: in a browser, the page of a French app shows what
// its script writes in French too: the empty state, the secret dialog, the
// key row's labels, badge and buttons, the activity.
func TestBrowserInFrench(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, changeRate: 1, changeBurst: 3})
	allowed := embedder(t, "127.0.0.1:0")
	a := keystore.App{Slug: "aa_42", Name: "Acme", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{allowed},
		Messages: msgtable.ToMap(french)}
	if _, err := e.store.CreateApp(context.Background(), a, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: allowed})
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Navigate(embedURL(allowed, tk.URL)))
	f := frameContext(t, ctx, e.srvOrigin())
	waitJS(t, f, `document.getElementById('portal').dataset.state === 'ready' && document.getElementById('keys-status').textContent === `+jsString(french.EmptyActive))

	click(t, f, tid("create-key"))
	waitJS(t, f, dialogOpen(tid("create-dialog")))
	click(t, f, tid("create-submit"))
	waitJS(t, f, `document.getElementById('create-error').textContent === `+jsString(french.NameRequired))
	typeInto(t, f, tid("create-name"), "facturation")
	click(t, f, tid("create-submit"))
	waitJS(t, f, dialogOpen(tid("secret-dialog"))+` && document.getElementById('dlg-secret-title').textContent === `+jsString(french.SecretNew))
	remember(value(t, f, tid("secret-output")))
	click(t, f, tid("secret-copy"))
	waitJS(t, f, `[`+jsString(french.Copied)+`, `+jsString(french.CopyByHand)+`].includes(document.getElementById('copy-status').textContent)`)
	click(t, f, tid("secret-done"))
	waitJS(t, f, q(row("facturation")))
	cells := text(t, f, row("facturation"))
	for _, want := range []string{french.Never, french.Active, french.Rotate, french.Revoke} {
		if !strings.Contains(cells, want) {
			t.Errorf("the key row %q lacks %q", cells, want)
		}
	}
	waitJS(t, f, q(row("facturation")+` td[data-label=`+jsString(french.ColLastUsed)+`]`)+` !== null`)
	waitJS(t, f, q(row("facturation")+` [data-testid="rotate-key"]`)+`.getAttribute('aria-label') === `+jsString(french.Rotate+" facturation"))

	click(t, f, row("facturation")+` [data-testid="rotate-key"]`)
	waitJS(t, f, dialogOpen(tid("rotate-dialog"))+` && document.getElementById('rotate-last-used').textContent === `+jsString(french.NeverUsed))
	click(t, f, tid("grace-1h"))
	click(t, f, tid("rotate-confirm"))
	waitJS(t, f, dialogOpen(tid("secret-dialog"))+` && document.getElementById('dlg-secret-title').textContent === `+jsString(french.SecretRotated))
	remember(value(t, f, tid("secret-output")))
	click(t, f, tid("secret-done"))
	waitJS(t, f, `document.querySelectorAll('tr[data-testid="key-row"]').length === 2`)
	if cells := text(t, f, `#key-rows`); !strings.Contains(cells, "Remplacée · valable jusqu’au") {
		t.Errorf("the rotated key is not marked in French: %q", cells)
	}

	click(t, f, `tr[data-testid="key-row"] [data-testid="revoke-key"]`)
	waitJS(t, f, dialogOpen(tid("revoke-dialog")))
	click(t, f, tid("revoke-confirm"))
	waitJS(t, f, `document.getElementById('notice').textContent === 'Clé « facturation » révoquée.'`)

	// A fourth change in a minute is over the limit (three at once here):
	// the dialog says so in French.
	click(t, f, tid("create-key"))
	typeInto(t, f, tid("create-name"), "encore")
	click(t, f, tid("create-submit"))
	waitJS(t, f, `/^Trop de changements de clés en peu de temps\. Réessayez dans \d+ s\.$/.test(document.getElementById('create-error').textContent)`)
	click(t, f, `#dlg-create [data-close]`)

	activityLists(t, f, "alice a créé une clé", "alice a remplacé une clé", "alice a révoqué une clé", "alice a ouvert le portail des clés")
	framed := testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[string](`document.body.innerText`))
	if leaks := englishLeaks(">" + strings.ReplaceAll(framed, "\n", "<>") + "<"); len(leaks) > 0 {
		t.Errorf("English texts in the French page as shown: %q\n%s", leaks, framed)
	}
}

// TestBrowserUsageInFrench: the Overview and Access logs tabs of a French
// app speak French everywhere the user looks: the tabs, totals, the chart's
// text alternative and tooltips, its table, rate limits (numbers and dates
// written the French way), the log's filters, badges, day headings and
// empty state, and the page's own words for a range it cannot show; no
// English text; and with these longer words both tabs still fit 320 px.
func TestBrowserUsageInFrench(t *testing.T) {
	ctx := testbrowser.Start(t, 1000, 900, chromedp.Flag("hide-scrollbars", true))
	f := newFakeAccess(time.Now)
	rules := map[string][]ratelimit.Rule{"aa_42": {{Max: 100, Per: time.Minute}, {Max: 5000, Per: 2 * time.Hour, Scope: ratelimit.ScopeApp}}}
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, access: f, wrapStore: func(st keystore.Store) keystore.Store {
		return storeWithLimits{Store: bareStore(st), rules: rules}
	}})
	e.standardScheme()
	a := keystore.App{Slug: "aa_42", Name: "Acme", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{"http://127.0.0.1:1"},
		RateLimitSchemeSlug: "standard", Messages: msgtable.ToMap(french)}
	if _, err := e.store.CreateApp(t.Context(), a, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	seedAccess(f, "aa_42", today.AddDate(0, 0, -2), 1200, 3)
	seedAccess(f, "aa_42", today, 4, 1)
	f.add(audit.Access{AppSlug: "aa_42", Time: today.Add(3 * time.Hour), Outcome: audit.AccessBlocked, Method: "GET", Path: "/v1/ping"})
	f.shed["aa_42"] = 2

	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: "http://127.0.0.1:1"})
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Navigate(tk.URL))
	waitJS(t, ctx, `document.getElementById('portal').dataset.state === 'ready'`)
	// How the page's language writes a UTC day, as Intl has it (the
	// browser itself runs in English).
	frDay := func(fmtOpts, day string) string {
		return `new Intl.DateTimeFormat('fr', ` + fmtOpts + `).format(new Date('` + day + `T00:00:00Z'))`
	}
	const dayOpts = `{ weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC' }`
	busy := today.AddDate(0, 0, -2).Format(dayLayout)

	click(t, ctx, tid("tab-overview"))
	waitJS(t, ctx, `!document.getElementById('overview-body').hidden && document.querySelectorAll('[data-testid="rate-limit"]').length === 2`)
	got := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[map[string]string](`({
		tab: `+q(tid("tab-overview"))+`.textContent,
		total: document.getElementById('ov-total').textContent,
		shed: document.getElementById('ov-shed').textContent,
		title: document.getElementById('ov-chart-title').textContent,
		desc: document.getElementById('ov-chart-desc').textContent,
		bar: document.querySelector('[data-testid="chart-day"][data-date="`+busy+`"] title').textContent,
		row: [...document.querySelector('#ov-days tr[data-date="`+busy+`"]').cells].map((c) => c.textContent).join('|'),
		wantDay: `+frDay(dayOpts, busy)+`,
		reasons: document.getElementById('ov-reasons').innerText,
		scheme: document.getElementById('ov-scheme').textContent,
		rules: [...document.querySelectorAll('[data-testid="rate-limit"]')].map((li) => li.textContent).join(' / '),
	})`))
	nb := "\u202f" // French groups thousands with a narrow no-break space
	for k, want := range map[string]string{
		"tab": "Vue d’ensemble", "total": "1" + nb + "209", "shed": "2 vérifications non enregistrées (surcharge).",
		"title": french.ChartTitle, "bar": got["wantDay"] + " : 1" + nb + "200 autorisées, 3 bloquées", "row": got["wantDay"] + "|1" + nb + "200|3",
		"reasons": "key revoked : 4\nmotif non enregistré : 1", "scheme": "Formule : standard",
		"rules": "100 requêtes par minute, par clé / 5" + nb + "000 requêtes par tranche de 2 heures, pour toute l’application",
	} {
		if got[k] != want {
			t.Errorf("Overview %s = %q, want %q", k, got[k], want)
		}
	}
	if !regexp.MustCompile(`^Du \S+ \S+ au \S+ \S+ : 1` + nb + `204 autorisées, 5 bloquées\.$`).MatchString(got["desc"]) {
		t.Errorf("the chart's description %q is not French", got["desc"])
	}
	overview := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`document.body.innerText`))
	if leaks := englishLeaks(">" + strings.ReplaceAll(overview, "\n", "<>") + "<"); len(leaks) > 0 {
		t.Errorf("English texts on the French Overview: %q\n%s", leaks, overview)
	}
	setDay := func(testid, day string) {
		evalJS(t, ctx, `{ const el = `+q(tid(testid))+`; el.value = `+jsString(day)+`; el.dispatchEvent(new Event('change', {bubbles: true})); }`)
	}
	setDay("overview-from", today.AddDate(0, 0, 1).Format(dayLayout))
	waitJS(t, ctx, q(tid("overview-status"))+`.textContent === `+jsString(french.RangeOrder)+` && document.getElementById('overview-body').hidden`)
	setDay("overview-from", today.AddDate(0, 0, -100).Format(dayLayout))
	waitJS(t, ctx, q(tid("overview-status"))+`.textContent === 'Choisissez au plus 92 jours.'`)
	setDay("overview-from", today.AddDate(0, 0, -6).Format(dayLayout))
	waitJS(t, ctx, `!document.getElementById('overview-body').hidden`)

	click(t, ctx, tid("tab-access"))
	waitJS(t, ctx, `document.querySelectorAll('[data-testid="access-row"]').length === 25`)
	got = testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[map[string]string](`({
		tab: `+q(tid("tab-access"))+`.textContent,
		chips: [...document.querySelectorAll('.chip[data-outcome]')].map((c) => c.textContent).join('|'),
		first: document.querySelector('[data-testid="access-row"]').innerText.replace(/\s+/g, ' '),
		noKey: document.querySelector('[data-testid="access-row"] .key').textContent,
		second: document.querySelectorAll('[data-testid="access-row"]')[1].innerText.replace(/\s+/g, ' '),
		heading: document.querySelector('[data-testid="access-day"] h3').textContent,
		wantHeading: `+frDay(dayOpts, today.Format(dayLayout))+`,
		older: `+q(tid("access-more"))+`.textContent,
	})`))
	for k, want := range map[string]string{
		"tab": "Journal des accès", "chips": "Toutes|Autorisées|Bloquées", "noKey": "Sans clé", "heading": got["wantHeading"], "older": "Plus anciennes",
	} {
		if got[k] != want {
			t.Errorf("Access logs %s = %q, want %q", k, got[k], want)
		}
	}
	if !strings.HasPrefix(got["first"], "Bloquées GET /v1/ping Sans clé ") || !strings.HasPrefix(got["second"], "Bloquées POST /v1/orders/4 key revoked old key ") {
		t.Errorf("the newest requests read %q and %q", got["first"], got["second"])
	}
	access := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`document.body.innerText`))
	if leaks := englishLeaks(">" + strings.ReplaceAll(access, "\n", "<>") + "<"); len(leaks) > 0 {
		t.Errorf("English texts in the French Access logs: %q\n%s", leaks, access)
	}

	// 320 px wide, with the French words: nothing overflows and every tab
	// stays in view.
	setWidth(t, ctx, 320)
	fits := `document.documentElement.scrollWidth <= 320 && document.querySelector('.tabs').scrollWidth <= document.querySelector('.tabs').clientWidth &&
		[...document.querySelectorAll('[role="tab"]')].every((b) => { const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= 320; })`
	waitJS(t, ctx, fits)
	click(t, ctx, tid("tab-overview"))
	waitJS(t, ctx, `!document.getElementById('overview-body').hidden && document.querySelector('#ov-chart svg').width.baseVal.value <= 296 && `+fits)

	day := today.AddDate(0, 0, -1).Format(dayLayout)
	click(t, ctx, tid("tab-access"))
	setDay("access-from", day)
	setDay("access-to", day)
	waitJS(t, ctx, q(tid("access-status"))+`.textContent === `+jsString(french.AccessEmpty)+` && !document.querySelector('[data-testid="access-row"]')`)
}
