package ticket

// ProtocolVersion is the version of the postMessage protocol, sent as "v" in
// every message.
const ProtocolVersion = 1

// Message types of the postMessage protocol between the portal frame and the
// embedding shell. Every message is {"type": "keyportal:<name>", "v": 1, ...}.
const (
	// MsgReady is sent by the frame once it listens; field "session" is
	// SessionNone or SessionActive.
	MsgReady = "keyportal:ready"
	// MsgSessionExpired is sent by the frame when its page session ended;
	// field "reason" is one of the Reason* constants.
	MsgSessionExpired = "keyportal:session_expired"
	// MsgResize is sent by the frame with its content "height" in CSS pixels.
	MsgResize = "keyportal:resize"
	// MsgEvent is sent by the frame after a key action; field "name" is one of
	// the Event* constants. It never carries a secret.
	MsgEvent = "keyportal:event"
	// MsgTicket is sent by the shell to hand a fresh "ticket" to the frame.
	MsgTicket = "keyportal:ticket"
	// MsgTheme is sent by the shell with "theme": ThemeLight, ThemeDark or
	// ThemeSystem.
	MsgTheme = "keyportal:theme"
)

// Values of the "session" field of MsgReady.
const (
	SessionNone   = "none"
	SessionActive = "active"
)

// Values of the "reason" field of MsgSessionExpired.
const (
	ReasonTTL           = "ttl"
	ReasonTicketExpired = "ticket_expired"
	ReasonTicketUsed    = "ticket_used"
	ReasonTicketInvalid = "ticket_invalid"
	ReasonRevoked       = "revoked"
)

// Values of the "name" field of MsgEvent.
const (
	EventKeyCreated = "key.created"
	EventKeyRotated = "key.rotated"
	EventKeyRevoked = "key.revoked"
)

// Values of the "theme" field of MsgTheme.
const (
	ThemeLight  = "light"
	ThemeDark   = "dark"
	ThemeSystem = "system"
)

// Message is one protocol message. Fields that do not belong to its Type are
// left empty and omitted on the wire.
type Message struct {
	Type    string `json:"type"`
	V       int    `json:"v"`
	Session string `json:"session,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Height  int    `json:"height,omitempty"`
	Name    string `json:"name,omitempty"`
	Ticket  string `json:"ticket,omitempty"`
	Theme   string `json:"theme,omitempty"`
}
