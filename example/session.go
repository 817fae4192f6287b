package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
)

// sessionCookie is the demo's sign-in cookie. A real app has its own session
// system; keyportal only asks it, through Config.Identify, who is signed in.
const sessionCookie = "acme_session"

// sessionTTL is how long a demo sign-in lasts.
const sessionTTL = 12 * time.Hour

var errNoSession = errors.New("acme: not signed in")

// sessions signs and checks the demo's cookies with an HMAC key kept in the
// data directory, so that a restart keeps people signed in.
type sessions struct {
	key []byte
	now func() time.Time
}

// issue returns a cookie value naming user until now+sessionTTL.
func (s sessions) issue(user string) string {
	payload := user + "|" + strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + s.mac(payload)
}

// user returns the user a cookie value names, if it is genuine and current.
func (s sessions) user(value string) (string, error) {
	enc, mac, ok := strings.Cut(value, ".")
	if !ok {
		return "", errNoSession
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(mac), []byte(s.mac(string(raw)))) {
		return "", errNoSession
	}
	user, exp, ok := strings.Cut(string(raw), "|")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return "", errNoSession
	}
	return user, nil
}

func (s sessions) mac(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// identify is the app's Config.Identify: the signed-in user and the tenant
// they act in.
func (s sessions) identify(c *gin.Context) (middleware.Principal, error) {
	cookie, err := c.Cookie(sessionCookie)
	if err != nil {
		return middleware.Principal{}, errNoSession
	}
	name, err := s.user(cookie)
	if err != nil {
		return middleware.Principal{}, err
	}
	u, ok := findUser(name)
	if !ok {
		return middleware.Principal{}, errNoSession
	}
	return middleware.Principal{Subject: u.Name, Tenant: u.Tenant}, nil
}
