package wachtapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
)

// ExampleNew serves the Wacht-compatible backend API beside the self-hosted
// portal: provision an app (organization_id is the keyportal tenant), then
// ask for a ticket as Wacht's guide does.
func ExampleNew() {
	store, err := sqlite.Open(context.Background(), ":memory:", keystore.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	p, err := portal.New(portal.Config{Store: store, BaseURL: "http://localhost:8081"})
	if err != nil {
		panic(err)
	}
	api, err := wachtapi.New(wachtapi.Config{
		Store:   store,
		Issuer:  p.Issuer(),
		APIKeys: []string{"kp_backend_example_key_0001"},
	})
	if err != nil {
		panic(err)
	}
	defer api.Close()

	r := gin.New()
	if err := errors.Join(p.Mount(r), api.Mount(r)); err != nil {
		panic(err)
	}

	call := func(method, path, body string) string {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer kp_backend_example_key_0001")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return fmt.Sprint(w.Code, " ", w.Body.String())
	}
	out := call("POST", "/api-auth/apps", `{"app_slug":"aa_42","name":"Acme Public API","key_prefix":"acme_live",
		"organization_id":"acme","allowed_origins":["https://app.acme.example"]}`)
	fmt.Println(out[:3], strings.Contains(out, `"organization_id":"acme"`), strings.Contains(out, `"deployment_id":"42"`))

	out = call("POST", "/session/tickets", `{"ticket_type":"api_auth_access","api_auth_app_slug":"aa_42","expires_in":120}`)
	fmt.Println(out[:3], strings.Contains(out, `"url":"http://localhost:8081/vanity/api-auth?ticket=`))

	out = call("GET", "/api-auth/apps/aa_404", "")
	fmt.Println(out)
	// Output:
	// 200 true true
	// 200 true
	// 404 {"errors":[{"message":"API auth app not found","code":404}]}
}
