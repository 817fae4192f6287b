package main

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// mountBackendAPI serves the Wacht-compatible backend API on the portal, so
// that middleware/wacht or Wacht's own SDKs can provision apps and manage keys
// with only their base URL changed. It returns the API's Close; the shared
// verifier is closed by its owner, the app's RequireAPIKey.
func mountBackendAPI(r gin.IRoutes, store keystore.Store, issuer ticket.Issuer, verifier *apikey.Verifier, o options) (func() error, error) {
	api, err := wachtapi.New(wachtapi.Config{
		Store:   store,
		Issuer:  issuer,
		APIKeys: []string{o.BackendAPIKey},
		// Share the app's verifier: the gateway check and RequireAPIKey
		// then use one cache and one last_used_at writer.
		Verifier: verifier,
		Logger:   o.Logger,
		Now:      o.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("KEYPORTAL_BACKEND_API_KEY: %w", err) // the one input of this config the user gives
	}
	if err := api.Mount(r); err != nil {
		api.Close()
		return nil, err
	}
	return api.Close, nil
}
