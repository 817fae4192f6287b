package wachtapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/ginroute"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// Rate-limit schemes, as Wacht's API has them: GET and POST
// /api-auth/rate-limit-schemes, GET, PATCH and DELETE
// /api-auth/rate-limit-schemes/{slug}. A scheme is keystore.Scheme on the
// wire ({id, deployment_id, slug, name, description, rules, created_at,
// updated_at}); the rules' meaning is ratelimit.SchemeRule's.

const schemeNotFound = "rate limit scheme not found"

// schemeRoutes are the scheme routes, for Mount to register.
func (a *API) schemeRoutes(auth gin.HandlerFunc) []ginroute.Route {
	return []ginroute.Route{
		route("GET", "/api-auth/rate-limit-schemes", auth, a.listSchemes),
		route("POST", "/api-auth/rate-limit-schemes", auth, a.createScheme),
		route("GET", "/api-auth/rate-limit-schemes/:slug", auth, a.getScheme),
		route("PATCH", "/api-auth/rate-limit-schemes/:slug", auth, a.updateScheme),
		route("DELETE", "/api-auth/rate-limit-schemes/:slug", auth, a.deleteScheme),
	}
}

// schemeReply answers a scheme route's store call as reply does, but for
// a 409 when the slug is taken or the scheme is in use (naming the apps).
func (a *API) schemeReply(c *gin.Context, v any, err error) {
	var inUse *keystore.SchemeInUseError
	switch {
	case errors.As(err, &inUse):
		writeError(c, http.StatusConflict, inUse.Error())
	case errors.Is(err, keystore.ErrConflict):
		writeError(c, http.StatusConflict, "a rate limit scheme with this slug already exists")
	default:
		a.reply(c, v, err, errText{notFound: schemeNotFound})
	}
}

func (a *API) listSchemes(c *gin.Context) {
	list, err := a.store.ListSchemes(c.Request.Context())
	a.schemeReply(c, gin.H{"schemes": list}, err)
}

type createSchemeRequest struct {
	Slug        string                 `json:"slug"`
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Rules       []ratelimit.SchemeRule `json:"rules"`
}

func (a *API) createScheme(c *gin.Context) {
	var req createSchemeRequest
	if !decodeBody(c, &req, false) || !required(c, member{"slug", req.Slug}, member{"name", req.Name}) {
		return
	}
	x, err := a.store.CreateScheme(c.Request.Context(), keystore.Scheme{
		Slug: req.Slug, Name: req.Name, Description: req.Description, Rules: req.Rules,
	})
	a.schemeReply(c, x, err)
}

func (a *API) getScheme(c *gin.Context) {
	x, err := a.store.GetScheme(c.Request.Context(), c.Param("slug"))
	a.schemeReply(c, x, err)
}

type updateSchemeRequest struct {
	Slug        *string                 `json:"slug"`
	Name        *string                 `json:"name"`
	Description *string                 `json:"description"`
	Rules       *[]ratelimit.SchemeRule `json:"rules"`
}

func (a *API) updateScheme(c *gin.Context) {
	var req updateSchemeRequest
	if !decodeBody(c, &req, false) {
		return
	}
	slug := c.Param("slug")
	if req.Slug != nil && *req.Slug != slug {
		writeError(c, http.StatusBadRequest, "slug cannot be changed: apps name the scheme by it")
		return
	}
	x, err := a.store.UpdateScheme(c.Request.Context(), slug, keystore.SchemePatch{
		Name: req.Name, Description: req.Description, Rules: req.Rules,
	})
	a.schemeReply(c, x, err)
}

func (a *API) deleteScheme(c *gin.Context) {
	err := a.store.DeleteScheme(c.Request.Context(), c.Param("slug"))
	a.schemeReply(c, gin.H{}, err)
}
