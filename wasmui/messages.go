package wasmui

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/keyportal/keyportal/internal/msgtable"
)

// Messages are the texts the shell shows, in one table: the page's eager
// state, the component's states and the iframe's accessible title. A host
// sets it in shell.Config.Messages (middleware/shell hands it to the wasm and
// renders the page's first state with it); an empty field means the English
// default. Texts are plain text, one line, at most 500 characters; {name}
// marks a value filled in when shown.
type Messages struct {
	// Lang is the language tag of the texts ("en"), the page's lang
	// attribute.
	Lang string `json:"lang"`
	// PageTitle is the settings page's title, unless shell.Config.Title
	// names it.
	PageTitle string `json:"page_title"`
	// Loading is shown while the first ticket is on its way.
	Loading string `json:"loading"`
	// FrameTitle is the portal iframe's accessible title.
	FrameTitle string `json:"frame_title"`
	// SignedOut is shown when the ticket route answers 401.
	SignedOut string `json:"signed_out"`
	// SignIn is the link to the sign-in page shown with SignedOut.
	SignIn string `json:"sign_in"`
	// Forbidden is shown when the ticket route answers 403: no role here,
	// a resource of another tenant, or a suspended tenant (the route tells
	// them apart to no one).
	Forbidden string `json:"forbidden"`
	// AskAdmin follows Forbidden.
	AskAdmin string `json:"ask_admin"`
	// RateLimited is shown when the ticket route answers 429.
	RateLimited string `json:"rate_limited"`
	// RetryingIn follows RateLimited or Failed while a countdown runs;
	// {seconds} is the seconds left.
	RetryingIn string `json:"retrying_in"`
	// Failed is shown for any other failure; {detail} is one of the
	// Detail texts.
	Failed string `json:"failed"`
	// Retry is the button that asks again at once after a failure.
	Retry string `json:"retry"`
	// DetailNetwork: the request failed on the network.
	DetailNetwork string `json:"detail_network"`
	// DetailServer: the server answered 5xx; {status} is the status.
	DetailServer string `json:"detail_server"`
	// DetailUnexpected: another status; {status} is the status.
	DetailUnexpected string `json:"detail_unexpected"`
	// DetailNoTicket: a 200 without a ticket.
	DetailNoTicket string `json:"detail_no_ticket"`
	// DetailBadURL: a 200 whose portal URL cannot be shown.
	DetailBadURL string `json:"detail_bad_url"`
	// DetailNoSession: the portal frame kept ending its session at once,
	// and the shell stopped asking for tickets.
	DetailNoSession string `json:"detail_no_session"`
	// FromAnotherSite says why a page opened from another site waits for
	// a click (see StartOnClick).
	FromAnotherSite string `json:"from_another_site"`
	// Open is the button, and its accessible name, that asks for the first
	// ticket on such a page.
	Open string `json:"open"`
	// NoResource is shown on a page whose URL carries no resource id.
	NoResource string `json:"no_resource"`
}

// The English texts that tests and host pages match; English holds them
// with the others.
const (
	// DefaultTitle is the iframe's accessible title.
	DefaultTitle = "API key manager"
	// TextLoading is the status shown while the first ticket is on its way.
	TextLoading = "Loading API key manager…"
	// TextSignedOut is shown when the ticket route answers 401.
	TextSignedOut = "Your session has ended — sign in again."
	// TextSignIn is the link to Shell.SignInURL shown with TextSignedOut.
	TextSignIn = "Sign in again"
	// TextForbidden is shown when the ticket route answers 403.
	TextForbidden = "You don't have permission to manage API keys here."
	// TextAskAdmin follows TextForbidden.
	TextAskAdmin = "Ask an owner or admin of this workspace if you need access."
	// TextFromAnotherSite says why the page waits.
	TextFromAnotherSite = "You opened this page from another site."
	// TextOpen is the button, and its accessible name, that asks for the
	// first ticket.
	TextOpen = "Open API keys"
)

// English is the shell's default table: every empty field of a Messages
// means the field here. It is the only copy of the shell's English texts.
func English() Messages {
	return Messages{
		Lang:             "en",
		PageTitle:        "API keys",
		Loading:          TextLoading,
		FrameTitle:       DefaultTitle,
		SignedOut:        TextSignedOut,
		SignIn:           TextSignIn,
		Forbidden:        TextForbidden,
		AskAdmin:         TextAskAdmin,
		RateLimited:      "Too many requests for a key manager ticket.",
		RetryingIn:       "Retrying in {seconds} s…",
		Failed:           "Couldn't load the API key manager ({detail}).",
		Retry:            "Retry",
		DetailNetwork:    "the network request failed",
		DetailServer:     "the server answered {status}",
		DetailUnexpected: "unexpected answer {status}",
		DetailNoTicket:   "the ticket route answered without a ticket",
		DetailBadURL:     "the ticket route answered with an unusable portal URL",
		DetailNoSession:  "its session kept ending at once",
		FromAnotherSite:  TextFromAnotherSite,
		Open:             TextOpen,
		NoResource:       "keyportal: this page's URL carries no resource id.",
	}
}

// Check reports a text a Messages may not hold: more than 500 characters,
// a control, bidi or invisible format character, or a Lang that is not a
// language tag. middleware/shell refuses such a table.
func (m Messages) Check() error { return msgtable.Check(m) }

// WithDefaults returns m with each empty field taken from English.
func (m Messages) WithDefaults() Messages { return msgtable.Fill(m, English()) }

// encode is m's set texts as JSON, for go-app's Env ("" if none is set).
func (m Messages) encode() string {
	set := msgtable.ToMap(m)
	if set == nil {
		return ""
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// decodeMessages reads encode's JSON; what it cannot read means English.
func decodeMessages(s string) Messages {
	var set map[string]string
	if s == "" || json.Unmarshal([]byte(s), &set) != nil {
		return Messages{}
	}
	return msgtable.Lenient[Messages](set)
}

// rateLimited is the 429 notice with seconds left before the retry.
func (m Messages) rateLimited(seconds int) string {
	return m.withCountdown(m.RateLimited, seconds)
}

// failed is the failure notice for f (with status) and seconds left.
func (m Messages) failed(f failure, status, seconds int) string {
	var d string
	switch f {
	case failNetwork:
		d = m.DetailNetwork
	case failServer:
		d = m.DetailServer
	case failUnexpected:
		d = m.DetailUnexpected
	case failNoTicket:
		d = m.DetailNoTicket
	case failBadURL:
		d = m.DetailBadURL
	case failNoSession:
		d = m.DetailNoSession
	}
	d = strings.ReplaceAll(d, "{status}", strconv.Itoa(status))
	return m.withCountdown(strings.ReplaceAll(m.Failed, "{detail}", d), seconds)
}

func (m Messages) withCountdown(text string, seconds int) string {
	if seconds <= 0 {
		return text
	}
	return text + " " + strings.ReplaceAll(m.RetryingIn, "{seconds}", strconv.Itoa(seconds))
}
