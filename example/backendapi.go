package main

import (
	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/portal/backend"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// mountBackendAPI serves the Wacht-compatible backend API on the portal, so
// that middleware/wacht or Wacht's own SDKs can provision apps and manage keys
// with only their base URL changed. It returns the API's Close.
func mountBackendAPI(r gin.IRoutes, store keystore.Store, issuer ticket.Issuer, tenants policy.TenantStatuser, o options) (func() error, error) {
	api, err := backend.New(backend.Config{
		Store:   store,
		Issuer:  issuer,
		APIKeys: []string{o.BackendAPIKey},
		Tenants: tenants,
		Logger:  o.Logger,
		Now:     o.Now,
	})
	if err != nil {
		return nil, err
	}
	api.Mount(r)
	return api.Close, nil
}
