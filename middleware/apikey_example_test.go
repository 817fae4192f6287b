package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// exampleStore opens an in-memory key store holding the active app aa_42
// (key prefix acme_live, tenant acme) and returns it with the actor that
// created it.
func exampleStore(ctx context.Context) (*sqlite.SQLite, keystore.Actor) {
	store, err := sqlite.Open(ctx, ":memory:", keystore.Options{})
	if err != nil {
		panic(err)
	}
	admin := keystore.Actor{Name: "example"}
	if _, err := store.CreateApp(ctx, keystore.App{
		Slug: "aa_42", Name: "Acme Public API", KeyPrefix: "acme_live", Tenant: "acme",
		DeploymentID: "42", IsActive: true,
	}, admin); err != nil {
		panic(err)
	}
	return store, admin
}

// ExampleRequireAPIKey guards an app's public API with the keys its users
// manage in the portal. A revoked key is refused on the very next request.
func ExampleRequireAPIKey() {
	ctx := context.Background()
	store, admin := exampleStore(ctx)
	defer store.Close()
	key, secret, _ := store.CreateKey(ctx, keystore.NewKey{
		AppSlug: "aa_42", Name: "ci", Permissions: []string{"deploy:read"},
	}, admin)

	// One guard per store; Close writes the last batch of last_used_at.
	auth, err := middleware.RequireAPIKey(middleware.APIKeyConfig{Config: apikey.Config{Keys: store}})
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	r := gin.New()
	r.GET("/v1/whoami", auth.Require("deploy:read"), func(c *gin.Context) {
		id, _ := middleware.APIKeyFrom(c)
		c.String(http.StatusOK, "%s of %s (tenant %s, deployment %s)", id.KeyName, id.AppSlug, id.Tenant, id.DeploymentID)
	})
	r.POST("/v1/deploy", auth.Require("deploy:write"), func(c *gin.Context) { c.Status(http.StatusAccepted) })

	call := func(method, path string) {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(method, path, w.Code, w.Body.String())
	}
	call("GET", "/v1/whoami")
	call("POST", "/v1/deploy")
	store.RevokeKey(ctx, "aa_42", key.ID, "leaked", admin)
	call("GET", "/v1/whoami")
	// Output:
	// GET /v1/whoami 200 ci of aa_42 (tenant acme, deployment 42)
	// POST /v1/deploy 403 {"error":"the API key lacks a required permission","reason":"permission_denied"}
	// GET /v1/whoami 401 {"error":"the API key has been revoked","reason":"revoked"}
}
