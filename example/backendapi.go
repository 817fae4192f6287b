package main

import (
	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// mountBackendAPI serves the Wacht-compatible backend API on the portal.
func mountBackendAPI(r gin.IRoutes, store keystore.Store, issuer ticket.Issuer, o options) error {
	return nil
}
