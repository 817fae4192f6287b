package portal_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// Serve the portal on its own origin and issue a ticket for an app of tenant
// acme, embedded by the app at http://127.0.0.1:8080.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "portal-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "keyportal.db"), keystore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.CreateApp(ctx, keystore.App{
		Slug: "aa_42", Name: "Acme Public API", KeyPrefix: "acme_live", Tenant: "acme",
		AllowedOrigins: []string{"http://127.0.0.1:8080"},
	}, keystore.Actor{Name: "example"}); err != nil {
		log.Fatal(err)
	}

	p, err := portal.New(portal.Config{Store: store, BaseURL: "http://localhost:8081"})
	if err != nil {
		log.Fatal(err)
	}
	engine := gin.New()
	if err := p.Mount(engine); err != nil { // the page, its assets, the exchange and the JSON API
		log.Fatal(err)
	}

	// The ticket route calls the issuer after its own checks.
	res, err := p.Issuer().Issue(ctx, ticket.Request{
		AppSlug: "aa_42", Tenant: "acme", Subject: "alice", Resource: "42",
		EmbedderOrigin: "http://127.0.0.1:8080",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(res.URL, "http://localhost:8081/vanity/api-auth?ticket="))

	// Another tenant gets nothing.
	_, err = p.Issuer().Issue(ctx, ticket.Request{
		AppSlug: "aa_42", Tenant: "globex", Subject: "frank",
		EmbedderOrigin: "http://127.0.0.1:8080",
	})
	fmt.Println(err != nil && errors.Is(err, ticket.ErrRejected))
	// Output:
	// true
	// true
}
