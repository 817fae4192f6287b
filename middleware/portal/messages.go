package portal

import (
	"encoding/json"

	"github.com/keyportal/keyportal/internal/msgtable"
)

// Messages are the texts of the portal page: its titles, buttons, dialogs,
// empty states, errors, activity labels and usage tabs, and their language
// (the page's lang attribute, whose conventions also write its dates and
// numbers). An empty field means Config.Messages's, and an empty one there
// the English default (EnglishMessages). Each app may set its own in
// keystore.App.Messages, by the json names below (the Wacht-compatible API
// takes them as "messages" on an app). Texts are plain text, one line, at
// most 500 characters; {name} marks a value filled in when shown.
type Messages struct {
	// Lang is the texts' language tag ("en"), the page's lang attribute.
	Lang string `json:"lang"`
	// Title heads the page and names it: "API keys".
	Title string `json:"title"`

	// ErrorNoTicket: the page was opened without a ticket.
	ErrorNoTicket string `json:"error_no_ticket"`
	// ErrorBadLink: the ticket cannot be opened.
	ErrorBadLink string `json:"error_bad_link"`
	// ErrorUnavailable: the portal's store is not answering.
	ErrorUnavailable string `json:"error_unavailable"`
	// ErrorAppGone: the ticket's app no longer exists.
	ErrorAppGone string `json:"error_app_gone"`
	// NoScript is shown to a browser without JavaScript.
	NoScript string `json:"no_script"`

	// CreateKey opens the create dialog and submits it.
	CreateKey string `json:"create_key"`
	// Sections names the tab list (for screen readers).
	Sections string `json:"sections"`
	// TabKeys and TabActivity are the tabs.
	TabKeys     string `json:"tab_keys"`
	TabActivity string `json:"tab_activity"`
	// ShowKeys names the filter group (for screen readers).
	ShowKeys string `json:"show_keys"`
	// Active, Revoked and Expired are the filters and the keys' status
	// badges; All is the filter that shows every key.
	Active  string `json:"active"`
	Revoked string `json:"revoked"`
	Expired string `json:"expired"`
	All     string `json:"all"`
	// KeysCaption describes the key table (for screen readers); {app} is
	// the app's name.
	KeysCaption string `json:"keys_caption"`
	// The key table's columns; each is also the label of its cell on a
	// narrow screen. ColName also labels the create dialog's name field.
	ColName      string `json:"col_name"`
	ColKey       string `json:"col_key"`
	ColCreated   string `json:"col_created"`
	ColCreatedBy string `json:"col_created_by"`
	ColLastUsed  string `json:"col_last_used"`
	ColExpires   string `json:"col_expires"`
	ColStatus    string `json:"col_status"`
	ColActions   string `json:"col_actions"`
	// LoadingKeys is shown while the keys load.
	LoadingKeys string `json:"loading_keys"`
	// EmptyActive, EmptyRevoked, EmptyExpired and EmptyAll are shown when
	// the filter finds no key.
	EmptyActive  string `json:"empty_active"`
	EmptyRevoked string `json:"empty_revoked"`
	EmptyExpired string `json:"empty_expired"`
	EmptyAll     string `json:"empty_all"`
	// LoadMore loads the next page of keys.
	LoadMore string `json:"load_more"`
	// Never is shown for a key never used or that never expires.
	Never string `json:"never"`
	// RotatedUntil marks a rotated key still working; {time} is when it
	// stops.
	RotatedUntil string `json:"rotated_until"`
	// Rotate and Revoke are a key's buttons; their accessible names add
	// the key's name.
	Rotate string `json:"rotate"`
	Revoke string `json:"revoke"`

	// CreateTitle heads the create dialog.
	CreateTitle string `json:"create_title"`
	// NameHint helps with the key's name.
	NameHint string `json:"name_hint"`
	// ExpiresOn labels the expiry date.
	ExpiresOn string `json:"expires_on"`
	// Optional marks an optional field: "(optional)".
	Optional string `json:"optional"`
	// Cancel closes a dialog.
	Cancel string `json:"cancel"`
	// NameRequired: the create form was sent without a name.
	NameRequired string `json:"name_required"`
	// DateInPast: the expiry date is not in the future.
	DateInPast string `json:"date_in_past"`

	// SecretNew and SecretRotated head the dialog that shows a new
	// secret, after a create and after a rotation.
	SecretNew     string `json:"secret_new"`
	SecretRotated string `json:"secret_rotated"`
	// SecretWarning says the secret is shown once.
	SecretWarning string `json:"secret_warning"`
	// SecretLabel labels the secret.
	SecretLabel string `json:"secret_label"`
	// Copy copies it; Copied and CopyByHand say how that went.
	Copy       string `json:"copy"`
	Copied     string `json:"copied"`
	CopyByHand string `json:"copy_by_hand"`
	// SecretDone closes the dialog.
	SecretDone string `json:"secret_done"`

	// RotateTitle heads the rotate dialog and confirms it.
	RotateTitle string `json:"rotate_title"`
	// RotateText explains a rotation; {name} is the key's name.
	RotateText string `json:"rotate_text"`
	// LastUsed and NeverUsed say when the key was last used; {time} is
	// when.
	LastUsed  string `json:"last_used"`
	NeverUsed string `json:"never_used"`
	// GraceLegend asks how long the old key keeps working; GraceNone,
	// Grace1h, Grace24h and Grace7d are the choices.
	GraceLegend string `json:"grace_legend"`
	GraceNone   string `json:"grace_none"`
	Grace1h     string `json:"grace_1h"`
	Grace24h    string `json:"grace_24h"`
	Grace7d     string `json:"grace_7d"`

	// RevokeTitle heads the revoke dialog and confirms it.
	RevokeTitle string `json:"revoke_title"`
	// RevokeText warns about a revocation; {name} is the key's name.
	RevokeText string `json:"revoke_text"`
	// Reason labels the revocation's reason.
	Reason string `json:"reason"`
	// KeyRevoked confirms a revocation; {name} is the key's name.
	KeyRevoked string `json:"key_revoked"`

	// SessionEnded: the page session ended and the shell renews it.
	SessionEnded string `json:"session_ended"`
	// AccessWithdrawn: the user lost access to the app's keys.
	AccessWithdrawn string `json:"access_withdrawn"`
	// LinkInvalid: the exchange refused the ticket without a message.
	LinkInvalid string `json:"link_invalid"`
	// Unreachable: the exchange failed on the network.
	Unreachable string `json:"unreachable"`
	// LinkExpired and LinkUsed: the exchange refused an expired or a spent
	// ticket.
	LinkExpired string `json:"link_expired"`
	LinkUsed    string `json:"link_used"`
	// ErrorRateLimited: the user made too many key changes; {seconds} is
	// the wait.
	ErrorRateLimited string `json:"error_rate_limited"`
	// ErrorKeyLimit: the app holds as many active keys as it may.
	ErrorKeyLimit string `json:"error_key_limit"`
	// ErrorKeyGone: the key is not in the app (any more).
	ErrorKeyGone string `json:"error_key_gone"`
	// ErrorAlreadyRevoked: the key was revoked meanwhile.
	ErrorAlreadyRevoked string `json:"error_already_revoked"`
	// SomethingWrong: a call failed in a way no other text names; {status}
	// is its HTTP status.
	SomethingWrong string `json:"something_wrong"`

	// ShowOlder loads older activity.
	ShowOlder string `json:"show_older"`
	// ActivityEmpty is shown when there is no activity.
	ActivityEmpty string `json:"activity_empty"`
	// Someone stands for an unknown actor.
	Someone string `json:"someone"`
	// The activity lines; {actor} is who.
	ActKeyCreated     string `json:"act_key_created"`
	ActKeyRotated     string `json:"act_key_rotated"`
	ActKeyRevoked     string `json:"act_key_revoked"`
	ActExchanged      string `json:"act_exchanged"`
	ActRejected       string `json:"act_rejected"`
	ActSessionExpired string `json:"act_session_expired"`

	// TabOverview and TabAccess are the usage tabs.
	TabOverview string `json:"tab_overview"`
	TabAccess   string `json:"tab_access"`
	// Dates names a tab's pair of date fields (for screen readers);
	// RangeFrom and RangeTo label them.
	Dates     string `json:"dates"`
	RangeFrom string `json:"range_from"`
	RangeTo   string `json:"range_to"`
	// InUTC says the tabs count days and show times in UTC.
	InUTC string `json:"in_utc"`
	// RangeOrder: the From day is after the To day.
	RangeOrder string `json:"range_order"`
	// RangeTooLong: the days are more than a tab shows; {days} is the
	// most it shows.
	RangeTooLong string `json:"range_too_long"`
	// LoadingUsage is shown while the Overview loads.
	LoadingUsage string `json:"loading_usage"`
	// UsageNotRecorded: the portal records no usage for the app.
	UsageNotRecorded string `json:"usage_not_recorded"`
	// AllRequests, Allowed, Blocked and KeysUsed24h label the Overview's
	// totals. Allowed and Blocked also name the chart's colours, its
	// table's columns, the log's filters and each request's badge.
	AllRequests string `json:"all_requests"`
	Allowed     string `json:"allowed"`
	Blocked     string `json:"blocked"`
	KeysUsed24h string `json:"keys_used_24h"`
	// UsageShed: verifications went unrecorded under load; {count} is how
	// many.
	UsageShed string `json:"usage_shed"`
	// ChartTitle heads the chart and names it (for screen readers).
	ChartTitle string `json:"chart_title"`
	// ChartSummary describes the chart (for screen readers); {from} and
	// {to} are its first and last day, {allowed} and {blocked} the totals.
	ChartSummary string `json:"chart_summary"`
	// ChartEmpty describes a chart without days.
	ChartEmpty string `json:"chart_empty"`
	// ChartDay is a bar's tooltip; {day} is its day, {allowed} and
	// {blocked} its counts.
	ChartDay string `json:"chart_day"`
	// ShowNumbers opens the chart's table; ColDay heads its days.
	ShowNumbers string `json:"show_numbers"`
	ColDay      string `json:"col_day"`
	// BlockedReasons heads the Overview's list of why requests were
	// blocked; ReasonCount is one line of it ({reason}, {count}).
	BlockedReasons string `json:"blocked_reasons"`
	ReasonCount    string `json:"reason_count"`
	// ReasonNone stands for a block whose reason was not recorded.
	ReasonNone string `json:"reason_none"`
	// RateLimits heads the app's rate limits; RateScheme names their
	// scheme ({scheme}); NoRateLimits is shown when there are none.
	RateLimits   string `json:"rate_limits"`
	RateScheme   string `json:"rate_scheme"`
	NoRateLimits string `json:"no_rate_limits"`
	// RateRule is one rate limit: {max} requests per {period}, counted
	// {scope}.
	RateRule string `json:"rate_rule"`
	// The periods of a rate limit: one unit ("minute"), or {count} of them
	// ("2 minutes"); PeriodMillis is a period of {count} milliseconds.
	PeriodSecond  string `json:"period_second"`
	PeriodSeconds string `json:"period_seconds"`
	PeriodMinute  string `json:"period_minute"`
	PeriodMinutes string `json:"period_minutes"`
	PeriodHour    string `json:"period_hour"`
	PeriodHours   string `json:"period_hours"`
	PeriodDay     string `json:"period_day"`
	PeriodDays    string `json:"period_days"`
	PeriodMillis  string `json:"period_millis"`
	// ScopeKey, ScopeApp and ScopeIP say what a rate limit counts: each
	// key, the whole app, each client IP.
	ScopeKey string `json:"scope_key"`
	ScopeApp string `json:"scope_app"`
	ScopeIP  string `json:"scope_ip"`
	// ShowRequests names the log's filter group (for screen readers);
	// OutcomeAll is the filter that shows every request.
	ShowRequests string `json:"show_requests"`
	OutcomeAll   string `json:"outcome_all"`
	// NoKey stands for a request that presented no known key.
	NoKey string `json:"no_key"`
	// AccessEmpty: no request in the days shown.
	AccessEmpty string `json:"access_empty"`
	// AccessOlder loads older requests.
	AccessOlder string `json:"access_older"`
}

// EnglishMessages is the portal page's default table, the only copy of its
// English texts.
func EnglishMessages() Messages {
	return Messages{
		Lang:             "en",
		Title:            "API keys",
		ErrorNoTicket:    "This page opens from your app's settings. Go back and open API keys there.",
		ErrorBadLink:     "This link is not valid. Go back to your app and open API keys again.",
		ErrorUnavailable: "The key portal is unavailable right now. Try again in a moment.",
		ErrorAppGone:     "This app no longer exists.",
		NoScript:         "This page needs JavaScript to manage your keys.",

		CreateKey:    "Create key",
		Sections:     "Sections",
		TabKeys:      "Keys",
		TabActivity:  "Activity",
		ShowKeys:     "Show keys",
		Active:       "Active",
		Revoked:      "Revoked",
		Expired:      "Expired",
		All:          "All",
		KeysCaption:  "API keys of {app}",
		ColName:      "Name",
		ColKey:       "Key",
		ColCreated:   "Created",
		ColCreatedBy: "Created by",
		ColLastUsed:  "Last used",
		ColExpires:   "Expires",
		ColStatus:    "Status",
		ColActions:   "Actions",
		LoadingKeys:  "Loading keys…",
		EmptyActive:  "No active keys yet.",
		EmptyRevoked: "No revoked keys yet.",
		EmptyExpired: "No expired keys yet.",
		EmptyAll:     "No keys yet.",
		LoadMore:     "Load more",
		Never:        "Never",
		RotatedUntil: "Rotated · works until {time}",
		Rotate:       "Rotate",
		Revoke:       "Revoke",

		CreateTitle:  "Create API key",
		NameHint:     "Say where it is used, for example “billing worker”.",
		ExpiresOn:    "Expires on",
		Optional:     "(optional)",
		Cancel:       "Cancel",
		NameRequired: "Enter a name for the key.",
		DateInPast:   "Pick a date in the future, or leave it empty.",

		SecretNew:     "Copy your new key",
		SecretRotated: "Copy the new key",
		SecretWarning: "This is the only time the key is shown. Copy it now and store it somewhere safe. If you lose it, rotate the key.",
		SecretLabel:   "Secret key",
		Copy:          "Copy",
		Copied:        "Copied to the clipboard.",
		CopyByHand:    "Select the key and copy it with your keyboard.",
		SecretDone:    "Done, I copied it",

		RotateTitle: "Rotate key",
		RotateText:  "A new key replaces {name}, with the same permissions.",
		LastUsed:    "The current key was last used {time}.",
		NeverUsed:   "The current key has never been used.",
		GraceLegend: "Keep the old key working for",
		GraceNone:   "No time: stop it now",
		Grace1h:     "1 hour",
		Grace24h:    "24 hours",
		Grace7d:     "7 days",

		RevokeTitle: "Revoke key",
		RevokeText:  "Requests with {name} fail from the next one on. This cannot be undone.",
		Reason:      "Reason",
		KeyRevoked:  "Key “{name}” revoked.",

		SessionEnded:        "Your session has ended. Reconnecting…",
		AccessWithdrawn:     "Access to these keys was withdrawn. Ask an administrator if you need it back.",
		LinkInvalid:         "This link is not valid.",
		Unreachable:         "The key portal could not be reached.",
		LinkExpired:         "This link has expired.",
		LinkUsed:            "This link was already used.",
		ErrorRateLimited:    "Too many key changes in a short time. Try again in {seconds} s.",
		ErrorKeyLimit:       "This app has as many active keys as it may have. Revoke a key you no longer use, then create the new one.",
		ErrorKeyGone:        "This key no longer exists.",
		ErrorAlreadyRevoked: "This key is already revoked.",
		SomethingWrong:      "Something went wrong ({status}).",

		ShowOlder:         "Show older",
		ActivityEmpty:     "Nothing has happened yet.",
		Someone:           "Someone",
		ActKeyCreated:     "{actor} created a key",
		ActKeyRotated:     "{actor} rotated a key",
		ActKeyRevoked:     "{actor} revoked a key",
		ActExchanged:      "{actor} opened the key portal",
		ActRejected:       "{actor} was refused the key portal",
		ActSessionExpired: "{actor}: portal session ended",

		TabOverview:      "Overview",
		TabAccess:        "Access logs",
		Dates:            "Dates (UTC)",
		RangeFrom:        "From",
		RangeTo:          "To",
		InUTC:            "Days and times in UTC",
		RangeOrder:       "Pick a From day on or before the To day.",
		RangeTooLong:     "Pick at most {days} days.",
		LoadingUsage:     "Loading usage…",
		UsageNotRecorded: "Usage is not recorded for this app.",
		AllRequests:      "All requests",
		Allowed:          "Allowed",
		Blocked:          "Blocked",
		KeysUsed24h:      "Keys used in the last 24 h",
		UsageShed:        "{count} verifications not recorded (overload).",
		ChartTitle:       "Requests per day (UTC)",
		ChartSummary:     "{from} to {to}: {allowed} allowed, {blocked} blocked.",
		ChartEmpty:       "No days.",
		ChartDay:         "{day}: {allowed} allowed, {blocked} blocked",
		ShowNumbers:      "Show the numbers",
		ColDay:           "Day",
		BlockedReasons:   "Why requests were blocked",
		ReasonCount:      "{reason}: {count}",
		ReasonNone:       "no reason recorded",
		RateLimits:       "Rate limits",
		RateScheme:       "Scheme: {scheme}",
		NoRateLimits:     "No rate limits.",
		RateRule:         "{max} requests per {period}, {scope}",
		PeriodSecond:     "second",
		PeriodSeconds:    "{count} seconds",
		PeriodMinute:     "minute",
		PeriodMinutes:    "{count} minutes",
		PeriodHour:       "hour",
		PeriodHours:      "{count} hours",
		PeriodDay:        "day",
		PeriodDays:       "{count} days",
		PeriodMillis:     "{count} ms",
		ScopeKey:         "per key",
		ScopeApp:         "for the whole app",
		ScopeIP:          "per client IP",
		ShowRequests:     "Show requests",
		OutcomeAll:       "All",
		NoKey:            "No key",
		AccessEmpty:      "No requests in these days.",
		AccessOlder:      "Older",
	}
}

// ParseMessages reads an app's texts by key (keystore.App.Messages) into a
// table: a key the table does not have, or a text Messages may not hold
// (more than 500 characters, a control, bidi or invisible format
// character, a Lang that is not a language tag), is an error wrapping
// ErrInvalidMessages that names it.
func ParseMessages(texts map[string]string) (Messages, error) {
	return msgtable.FromMap[Messages](texts)
}

// ErrInvalidMessages is the error ParseMessages and New wrap.
var ErrInvalidMessages = msgtable.ErrInvalid

// appMessages is the table of the page for an app: its own texts, then
// def's (Config.Messages filled with English). Stored texts a later version
// no longer has are dropped, not refused.
func appMessages(texts map[string]string, def Messages) Messages {
	if len(texts) == 0 {
		return def
	}
	return msgtable.Fill(msgtable.Lenient[Messages](texts), def)
}

// scriptJSON is the table as the page's script reads it.
func (m Messages) scriptJSON() string {
	b, _ := json.Marshal(m)
	return string(b)
}
