package portal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// Purposes of sealed values. Each has its own key in the store and its own
// prefix and additional data, so a ticket can never pass for a session token
// or the other way round.
const (
	ticketKeyName  = "ticket-key"
	sessionKeyName = "portal-session-key"

	ticketPrefix  = "kpt1."
	sessionPrefix = "kps1."
)

// maxSealedLen bounds what is even tried: a real ticket or session token is a
// few hundred characters.
const maxSealedLen = 2048

// b64 is strict so that no two strings decode to the same bytes: changing the
// last character of a ticket must break it, not leave it equivalent.
var b64 = base64.RawURLEncoding.Strict()

// errTooLong means the claims seal to more than maxSealedLen characters, a
// value open would refuse.
var errTooLong = fmt.Errorf("portal: sealed value longer than %d characters", maxSealedLen)

// errUnopenable means a sealed value is malformed or was not sealed by us
// (forged, truncated, altered, or sealed for another purpose).
var errUnopenable = errors.New("portal: cannot open sealed value")

// claims is what a ticket or a session token carries.
type claims struct {
	// ID is 128 random bits, base64url: the ticket id (consumed once) or the
	// session id (for logs).
	ID string `json:"i"`
	// App is the API auth app slug.
	App string `json:"a"`
	// Tenant is the tenant the user acts in.
	Tenant string `json:"t"`
	// User is the subject the ticket was issued to.
	User string `json:"u"`
	// Origin is the embedder origin, the only targetOrigin the page uses.
	Origin string `json:"o"`
	// Resource is the resource id the ticket named (the deployment id).
	Resource string `json:"r,omitempty"`
	// Object and Action are the policy question the ticket route decided
	// (ticket.Request.Object, Action), asked again on every exchange and
	// API call when Config.Decider is set; empty for tickets of the backend
	// API, which decides nothing.
	Object string `json:"ob,omitempty"`
	Action string `json:"ac,omitempty"`
	// Exp is the expiry in unix seconds.
	Exp int64 `json:"e"`
}

// idHash is what the store keeps of a ticket id.
func (c claims) idHash() string {
	sum := sha256.Sum256([]byte(c.ID))
	return hex.EncodeToString(sum[:])
}

// newRandomID returns 128 random bits, base64url.
func newRandomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	return b64.EncodeToString(b[:])
}

// sealer seals and opens claims for one purpose. Its AES key comes from the
// store on first use and is cached; a failed load is retried next time.
type sealer struct {
	store   keystore.Store
	keyName string
	prefix  string

	mu   sync.Mutex
	aead cipher.AEAD
}

func newSealer(store keystore.Store, keyName, prefix string) *sealer {
	return &sealer{store: store, keyName: keyName, prefix: prefix}
}

func (s *sealer) load(ctx context.Context) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aead != nil {
		return s.aead, nil
	}
	key, err := s.store.Secret(ctx, s.keyName, 32)
	if err != nil {
		return nil, fmt.Errorf("portal: load %s: %w", s.keyName, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("portal: %s has %d bytes, want 32", s.keyName, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("portal: %s: %w", s.keyName, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("portal: %s: %w", s.keyName, err)
	}
	s.aead = aead
	return aead, nil
}

// seal returns prefix + base64url(nonce || AES-GCM(claims)), or errTooLong
// when that is longer than open takes.
func (s *sealer) seal(ctx context.Context, c claims) (string, error) {
	aead, err := s.load(ctx)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("portal: encode claims: %w", err)
	}
	ns := aead.NonceSize()
	buf := make([]byte, ns, ns+len(plain)+aead.Overhead())
	rand.Read(buf) // never fails
	buf = aead.Seal(buf, buf[:ns], plain, []byte(s.prefix))
	if len(s.prefix)+b64.EncodedLen(len(buf)) > maxSealedLen {
		return "", errTooLong
	}
	return s.prefix + b64.EncodeToString(buf), nil
}

// open authenticates and decodes a sealed value. It returns errUnopenable for
// anything not sealed by this sealer, and a store error (not errUnopenable)
// when the key cannot be loaded. It does not check expiry.
func (s *sealer) open(ctx context.Context, sealed string) (claims, error) {
	if len(sealed) > maxSealedLen || !strings.HasPrefix(sealed, s.prefix) {
		return claims{}, errUnopenable
	}
	raw, err := b64.DecodeString(sealed[len(s.prefix):])
	if err != nil {
		return claims{}, errUnopenable
	}
	aead, err := s.load(ctx)
	if err != nil {
		return claims{}, err
	}
	ns := aead.NonceSize()
	if len(raw) < ns+aead.Overhead() {
		return claims{}, errUnopenable
	}
	plain, err := aead.Open(nil, raw[:ns], raw[ns:], []byte(s.prefix))
	if err != nil {
		return claims{}, errUnopenable
	}
	var c claims
	if err := json.Unmarshal(plain, &c); err != nil || c.ID == "" || c.App == "" {
		return claims{}, errUnopenable
	}
	return c, nil
}
