package ticket_test

import (
	"fmt"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// The one origin rule: every side stores and compares origins as ParseOrigin
// serializes them, and refuses what it refuses, saying why.
func ExampleParseOrigin() {
	for _, s := range []string{"HTTPS://App.Acme.test:443/", "http://localhost:8080", "http://*.acme.test", "https://acme.test/settings"} {
		o, err := ticket.ParseOrigin(s)
		fmt.Printf("%q %v\n", o, err)
	}
	fmt.Println(ticket.ContainsOrigin([]string{"https://app.acme.test"}, "https://app.acme.test"))
	// Output:
	// "https://app.acme.test" <nil>
	// "http://localhost:8080" <nil>
	// "" not an origin: "http://*.acme.test": wildcards are not supported: list each origin
	// "" not an origin: "https://acme.test/settings": a path is not part of an origin; write scheme://host[:port]
	// true
}

// The route's defaults, shared by the route, the shell and the issuers.
func ExampleClampTTL() {
	fmt.Println(ticket.DefaultPath, ticket.DefaultField)
	fmt.Println(ticket.ClampTTL(0), ticket.ClampTTL(time.Second), ticket.ClampTTL(time.Hour))
	// Output:
	// /api/settings/api-keys/embed-ticket deploymentId
	// 2m0s 30s 10m0s
}

// A client's X-Request-Id is kept when it is a plain token; anything else
// is replaced by a fresh random id.
func ExampleRequestID() {
	fmt.Println(ticket.RequestID("req-123"))
	fmt.Println(len(ticket.RequestID("not\na token")))
	// Output:
	// req-123
	// 32
}
