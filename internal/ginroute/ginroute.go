// Package ginroute registers routes on a Gin router for the Mount methods of
// keyportal's packages and turns Gin's panics (a duplicate or conflicting
// route, a pattern Gin refuses) into errors wrapping ticket.ErrMount.
package ginroute

import (
	"fmt"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// Route is one route to register.
type Route struct {
	Method   string
	Path     string
	Handlers []gin.HandlerFunc
}

// Register registers routes on r in order. If Gin refuses one it returns an
// error wrapping ticket.ErrMount that names what (the mounting package),
// the route and Gin's reason; the routes before it stay registered, so the
// caller should not serve r.
func Register(r gin.IRoutes, what string, routes ...Route) error {
	for _, rt := range routes {
		if err := register(r, rt); err != nil {
			return fmt.Errorf("%w %s: %s %s: %v", ticket.ErrMount, what, rt.Method, Full(r, rt.Path), err)
		}
	}
	return nil
}

func register(r gin.IRoutes, rt Route) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Handle(rt.Method, rt.Path, rt.Handlers...)
	return nil
}

// Base returns the path r adds before the routes registered on it: "/" for
// an engine, the group's prefix for a group.
func Base(r gin.IRoutes) string {
	if g, ok := r.(interface{ BasePath() string }); ok && g.BasePath() != "" {
		return g.BasePath()
	}
	return "/"
}

// Full returns the site path a route registered on r at path answers.
func Full(r gin.IRoutes, path string) string {
	base := Base(r)
	if base == "/" {
		return path
	}
	if path == "" || path == "/" {
		return base
	}
	if base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	if path[0] != '/' {
		path = "/" + path
	}
	return base + path
}

// GetHead returns a GET and a HEAD route for path.
func GetHead(path string, h ...gin.HandlerFunc) []Route {
	return []Route{{"GET", path, h}, {"HEAD", path, h}}
}
