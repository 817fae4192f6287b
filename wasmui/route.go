package wasmui

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ResourceFromPath returns the resource id carried by path: the value of the
// last parameter of the first Gin-style pattern in routes that matches
// (":name" matches one segment, "*name" the rest of the path). It returns ""
// when none matches or the value is empty.
func ResourceFromPath(routes []string, path string) string {
	for _, r := range routes {
		if v, ok := matchRoute(r, path); ok {
			return v
		}
	}
	return ""
}

// matchRoute matches one Gin-style pattern and returns the last parameter.
func matchRoute(pattern, path string) (string, bool) {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	last := ""
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			rest := strings.Join(xs[min(i, len(xs)):], "/")
			v, err := url.PathUnescape(rest)
			return v, err == nil && v != ""
		}
		if i >= len(xs) {
			return "", false
		}
		switch {
		case strings.HasPrefix(p, ":"):
			v, err := url.PathUnescape(xs[i])
			if err != nil || v == "" {
				return "", false
			}
			last = v
		case p != xs[i]:
			return "", false
		}
	}
	return last, len(ps) == len(xs) && last != ""
}

// RouteRegexp turns a Gin-style pattern into the regular expression
// go-app's router (app.RouteWithRegexp) needs to recognise the same paths.
func RouteRegexp(pattern string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, p := range strings.Split(strings.Trim(pattern, "/"), "/") {
		switch {
		case strings.HasPrefix(p, "*"):
			b.WriteString("(/.*)?")
		case strings.HasPrefix(p, ":"):
			b.WriteString("/[^/]+")
		case p == "":
		default:
			b.WriteString("/" + regexp.QuoteMeta(p))
		}
	}
	if b.Len() == 1 {
		b.WriteString("/")
	}
	b.WriteString("/?$")
	return b.String()
}

// Keys of go-app's Env (app.Handler.Env, read with app.Getenv) through which
// the server hands a Shell's settings to the wasm, which serves every page.
const (
	envTicketPath = "KEYPORTAL_TICKET_PATH"
	envField      = "KEYPORTAL_FIELD"
	envRoutes     = "KEYPORTAL_ROUTES"   // newline-separated
	envMessages   = "KEYPORTAL_MESSAGES" // Messages.encode
	envMinHeight  = "KEYPORTAL_MIN_HEIGHT"
	envSignInURL  = "KEYPORTAL_SIGN_IN_URL"
	envTheme      = "KEYPORTAL_THEME"
)

// Env returns the settings of s as go-app Env entries; FromEnv reads them
// back in the browser.
func (s *Shell) Env() map[string]string {
	env := map[string]string{
		envTicketPath: s.TicketPath,
		envField:      s.Field,
		envRoutes:     strings.Join(s.Routes, "\n"),
		envMessages:   s.Messages.encode(),
		envSignInURL:  s.SignInURL,
		envTheme:      s.Theme,
	}
	if s.MinHeight > 0 {
		env[envMinHeight] = strconv.Itoa(s.MinHeight)
	}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}

// FromEnv returns a Shell configured from Env entries; pass app.Getenv.
func FromEnv(getenv func(string) string) *Shell {
	s := &Shell{
		TicketPath: getenv(envTicketPath),
		Field:      getenv(envField),
		Messages:   decodeMessages(getenv(envMessages)),
		SignInURL:  getenv(envSignInURL),
		Theme:      getenv(envTheme),
	}
	if !validTheme(s.Theme) {
		s.Theme = ""
	}
	if r := getenv(envRoutes); r != "" {
		s.Routes = strings.Split(r, "\n")
	}
	if n, err := strconv.Atoi(getenv(envMinHeight)); err == nil && n > 0 {
		s.MinHeight = n
	}
	return s
}
