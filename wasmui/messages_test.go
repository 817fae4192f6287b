package wasmui

// german overrides every text of the shell.
var german = Messages{
	Lang:             "de",
	PageTitle:        "API-Schlüssel",
	Loading:          "API-Schlüsselverwaltung wird geladen …",
	FrameTitle:       "API-Schlüsselverwaltung",
	SignedOut:        "Ihre Sitzung ist abgelaufen – bitte melden Sie sich erneut an.",
	SignIn:           "Erneut anmelden",
	Forbidden:        "Sie dürfen hier keine API-Schlüssel verwalten.",
	AskAdmin:         "Bitten Sie einen Inhaber oder Admin dieses Arbeitsbereichs um Zugriff.",
	RateLimited:      "Zu viele Anfragen.",
	RetryingIn:       "Neuer Versuch in {seconds} s …",
	Failed:           "Die Schlüsselverwaltung konnte nicht geladen werden ({detail}).",
	Retry:            "Erneut versuchen",
	DetailNetwork:    "Netzwerkfehler",
	DetailServer:     "der Server antwortete {status}",
	DetailUnexpected: "unerwartete Antwort {status}",
	DetailNoTicket:   "kein Ticket erhalten",
	DetailBadURL:     "unbrauchbare Portal-Adresse",
	DetailNoSession:  "ihre Sitzung endete immer wieder sofort",
	FromAnotherSite:  "Sie haben diese Seite von einer anderen Website aus geöffnet.",
	Open:             "API-Schlüssel öffnen",
	NoResource:       "keyportal: die Adresse dieser Seite nennt keine Ressource.",
}
