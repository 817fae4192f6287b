package gindev_test

import (
	"context"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/example/gindev"
)

// deploymentsTable stands for the app's own table of deployments (a
// policy.OwnerSource).
type deploymentsTable struct{}

func (deploymentsTable) Owner(_ context.Context, object string) (string, bool, error) {
	if object == "deployment:42" {
		return "acme", true, nil
	}
	return "", false, nil
}

// An app adds keyportal and serves its portal on a second origin.
func ExampleAdd() {
	app := gin.New()
	portalEngine, closeAll, err := gindev.Add(context.Background(), gindev.Host{
		Engine: app,
		CurrentUser: func(c *gin.Context) (string, string, bool) {
			return "", "", false // your session
		},
		Deployments: deploymentsTable{},
	}, gindev.Settings{
		PolicyPath: "policy.csv",
		DBPath:     "keyportal.db",
		AppURL:     "http://127.0.0.1:8080",
		PortalURL:  "http://localhost:8081",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer closeAll()
	go func() { log.Print(http.ListenAndServe("127.0.0.1:8081", portalEngine)) }()
	log.Print(http.ListenAndServe("127.0.0.1:8080", app))
}
