package wacht

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Key is an API key, with the wire fields of Wacht's backend API. The secret
// is never part of it. Times are zero when absent.
type Key struct {
	ID                       string         `json:"id"`
	DeploymentID             string         `json:"deployment_id"`
	AppSlug                  string         `json:"app_slug"`
	Name                     string         `json:"name"`
	KeyPrefix                string         `json:"key_prefix"`
	KeySuffix                string         `json:"key_suffix"`
	Permissions              []string       `json:"permissions"`
	OrgRolePermissions       []string       `json:"org_role_permissions,omitempty"`
	WorkspaceRolePermissions []string       `json:"workspace_role_permissions,omitempty"`
	Metadata                 map[string]any `json:"metadata,omitempty"`
	OrganizationID           string         `json:"organization_id,omitempty"`
	WorkspaceID              string         `json:"workspace_id,omitempty"`
	OrganizationMembershipID string         `json:"organization_membership_id,omitempty"`
	WorkspaceMembershipID    string         `json:"workspace_membership_id,omitempty"`
	ExpiresAt                time.Time      `json:"expires_at,omitzero"`
	LastUsedAt               time.Time      `json:"last_used_at,omitzero"`
	IsActive                 bool           `json:"is_active"`
	CreatedAt                time.Time      `json:"created_at,omitzero"`
	UpdatedAt                time.Time      `json:"updated_at,omitzero"`
	RevokedAt                time.Time      `json:"revoked_at,omitzero"`
	RevokedReason            string         `json:"revoked_reason,omitempty"`
}

// UnmarshalJSON decodes a key, reading its times leniently.
func (k *Key) UnmarshalJSON(b []byte) error {
	type plain Key
	aux := struct {
		*plain
		ExpiresAt  wireTime `json:"expires_at"`
		LastUsedAt wireTime `json:"last_used_at"`
		CreatedAt  wireTime `json:"created_at"`
		UpdatedAt  wireTime `json:"updated_at"`
		RevokedAt  wireTime `json:"revoked_at"`
	}{plain: (*plain)(k)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	k.ExpiresAt, k.LastUsedAt = time.Time(aux.ExpiresAt), time.Time(aux.LastUsedAt)
	k.CreatedAt, k.UpdatedAt, k.RevokedAt = time.Time(aux.CreatedAt), time.Time(aux.UpdatedAt), time.Time(aux.RevokedAt)
	return nil
}

func (k *Key) validate() string {
	if k.ID == "" {
		return "no id in the key"
	}
	return ""
}

// CreateKeyRequest creates an API key. Name is required.
type CreateKeyRequest struct {
	Name        string         `json:"name"`
	Permissions []string       `json:"permissions,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	// ExpiresAt is when the key stops working; zero for never. Sent as
	// RFC 3339.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// keyWithSecret reads a "key with secret" in both shapes found in the wild:
// the key's fields with "secret" beside them (what Wacht sends), and
// {"key": Key, "secret": string} (what the npm SDK's types describe). When
// both are present, the nested key wins.
type keyWithSecret struct {
	Key    Key
	Secret string
}

func (k *keyWithSecret) UnmarshalJSON(b []byte) error {
	var nested struct {
		Key    json.RawMessage `json:"key"`
		Secret string          `json:"secret"`
	}
	if err := json.Unmarshal(b, &nested); err != nil {
		return err
	}
	k.Secret = nested.Secret
	if raw := bytes.TrimSpace(nested.Key); len(raw) > 0 && raw[0] == '{' {
		return json.Unmarshal(raw, &k.Key)
	}
	return json.Unmarshal(b, &k.Key)
}

func (k *keyWithSecret) validate() string {
	if k.Secret == "" {
		return "no secret in the response"
	}
	return k.Key.validate()
}

// keyList reads {"keys": [...]} and a bare array, and the paging members
// keyportal's backend API adds to the object (has_more, next_cursor).
type keyList struct {
	list[Key, *Key]
	HasMore    bool
	NextCursor string
}

func (l *keyList) UnmarshalJSON(b []byte) error {
	l.field = "keys"
	if err := l.list.UnmarshalJSON(b); err != nil {
		return err
	}
	var paging struct {
		HasMore    bool    `json:"has_more"`
		NextCursor *string `json:"next_cursor"`
	}
	if json.Unmarshal(b, &paging) == nil && paging.HasMore {
		l.HasMore = true
		if paging.NextCursor != nil {
			l.NextCursor = *paging.NextCursor
		}
	}
	return nil
}

// keyPath is the path of key id of app slug, followed by rest ("/rotate"...).
func keyPath(slug, id, rest string) (string, error) {
	p, err := appPath(slug, "/keys/")
	if err != nil {
		return "", err
	}
	s, err := pathSegment("key id", id)
	if err != nil {
		return "", err
	}
	return p + s + rest, nil
}

// maxKeyPages bounds the pages ListKeys follows: a million keys at
// keyportal's largest page.
const maxKeyPages = 1000

// ListKeys lists all of an app's keys (GET /api-auth/apps/{slug}/keys);
// includeInactive adds revoked and rotated ones. When the answer is paged
// (has_more and next_cursor, as keyportal's backend API answers), it follows
// the pages to the end; a cursor that repeats is ErrInvalidResponse.
func (c *Client) ListKeys(ctx context.Context, slug string, includeInactive bool) ([]Key, error) {
	p, err := appPath(slug, "/keys")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if includeInactive {
		q.Set("include_inactive", "true")
	}
	var keys []Key
	seen := map[string]bool{}
	for range maxKeyPages {
		var l keyList
		if err := c.do(ctx, call{method: http.MethodGet, path: p, query: q, out: &l}); err != nil {
			return nil, err
		}
		keys = append(keys, l.items...)
		switch {
		case !l.HasMore:
			return keys, nil
		case l.NextCursor == "":
			return nil, &InvalidResponseError{Op: "GET " + p, Status: http.StatusOK, Reason: "has_more without a next_cursor"}
		case seen[l.NextCursor]:
			return nil, &InvalidResponseError{Op: "GET " + p, Status: http.StatusOK, Reason: "next_cursor repeats"}
		}
		seen[l.NextCursor] = true
		q.Set("cursor", l.NextCursor)
	}
	return nil, &InvalidResponseError{Op: "GET " + p, Status: http.StatusOK, Reason: fmt.Sprintf("more than %d pages of keys", maxKeyPages)}
}

// CreateKey creates a key (POST /api-auth/apps/{slug}/keys) and returns it
// with its secret. The secret is shown once: hand it to the user, never log
// or store it.
func (c *Client) CreateKey(ctx context.Context, slug string, req CreateKeyRequest) (Key, string, error) {
	k := call{method: http.MethodPost, in: req}.at(appPath(slug, "/keys"))
	return c.keyAndSecret(ctx, k.refuse(required("CreateKey", field{"Name", req.Name})))
}

// keyAndSecret makes a call answered by a key and its secret.
func (c *Client) keyAndSecret(ctx context.Context, k call) (Key, string, error) {
	out, err := fetch[keyWithSecret](ctx, c, k)
	if err != nil {
		return Key{}, "", err
	}
	return out.Key, out.Secret, nil
}

// RotateKeyRequest says how RotateKey replaces a key. The zero value
// rotates as Wacht does: the old key stops working at once.
type RotateKeyRequest struct {
	// GracePeriod keeps the old key working this long after the rotation,
	// so that its users can move to the new one; zero ends it at once. It is
	// sent as keyportal's extension field grace_period_seconds, in whole
	// seconds (a keyportal server takes up to 30 days); a negative or
	// fractional period is ErrBadRequest before anything is sent.
	GracePeriod time.Duration
}

// RotateKey replaces a key (POST /api-auth/apps/{slug}/keys/{id}/rotate) and
// returns the new key, with a new id, and its secret. The old key ends at
// once, or after req.GracePeriod.
func (c *Client) RotateKey(ctx context.Context, slug, id string, req RotateKeyRequest) (Key, string, error) {
	k := call{method: http.MethodPost}.at(keyPath(slug, id, "/rotate"))
	if req.GracePeriod < 0 || req.GracePeriod%time.Second != 0 {
		k = k.refuse(&inputError{msg: fmt.Sprintf("RotateKey: GracePeriod %v is not a whole number of seconds >= 0", req.GracePeriod)})
	}
	if req.GracePeriod > 0 { // else no body, as Wacht's clients send
		k.in = struct {
			GracePeriodSeconds int64 `json:"grace_period_seconds"`
		}{int64(req.GracePeriod / time.Second)}
	}
	return c.keyAndSecret(ctx, k)
}

// RevokeKey ends a key at once (POST /api-auth/apps/{slug}/keys/{id}/revoke).
// A key that is already inactive gives ErrNotFound.
func (c *Client) RevokeKey(ctx context.Context, slug, id, reason string) error {
	body := struct {
		Reason string `json:"reason,omitempty"`
	}{reason}
	return c.exec(ctx, call{method: http.MethodPost, in: body}.at(keyPath(slug, id, "/revoke")))
}
