// Command benchserver serves the ticket route in Wacht mode, with the same
// users, tenants and deployments as the Express peer (express-seed in the
// peers' directory, $PEERS), so that both can be loaded with wrk against the
// same stub-wacht in one run:
//
//	go build -o /tmp/benchserver ./cmd/benchserver
//	/tmp/benchserver -addr 127.0.0.1:3001 -wacht http://127.0.0.1:7700 -log /tmp/benchserver-audit.log &
//	wrk -t2 -c32 -d8s -s cmd/benchserver/post.lua --latency http://127.0.0.1:3001/api/settings/api-keys/embed-ticket
//
// cmd/benchserver/compare-all.sh does all of it, peers included, beside
// the floors below, the local mode and a bare Gin handler, and prints each
// round's requests/s, p99, CPU per request and ratios.
//
// Users come from the X-User header: admin-<t> (role admin, may manage keys)
// and viewer-<t> (role viewer, may not) for tenants t0..t99; deployment
// <t*10+d> (d 0..9) belongs to tenant t<t>. The decisions run through the
// real Casbin engine over a generated policy text; the rate limit is lifted;
// every attempt writes its audit line (info level) to the -log file, as the
// Express peer writes one JSON line per attempt to its stdout, through a
// middleware.BufferedLog (a graceful stop, SIGINT or SIGTERM, writes every
// line).
//
// -handler swaps the route for a floor: a Gin handler that only forwards each
// request to Wacht and answers its body, with no identity, policy, audit or
// metrics: "forward" through keyportal's Wacht client (the same client the
// route uses), "forward-nethttp" through a bare net/http client, as a
// hand-written Express port would. No Gin handler that calls Wacht through
// the client once per ticket can be faster than the first; the route's
// requests/s over it is what the checks cost.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/cmd/internal/benchserve"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/policy"
)

// Tenants and deployments per tenant, as in the Express peer.
const (
	tenants              = 100
	deploymentsPerTenant = 10
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	wachtURL := flag.String("wacht", "http://127.0.0.1:7700", "Wacht backend API base URL (stub-wacht)")
	apiKey := flag.String("api-key", "sk_test_peer", "Wacht backend API key")
	logPath := flag.String("log", "benchserver-audit.log", "audit log file (appended)")
	origins := flag.String("origins", "", "comma-separated allowed origins (default: the request's own origin)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	handler := flag.String("handler", "route", "what answers the route: route (keyportal's ticket route), forward (a floor: keyportal's Wacht client, no checks, no audit) or forward-nethttp (the same with net/http)")
	flag.Parse()

	switch *handler {
	case "route", "forward", "forward-nethttp":
	default:
		log.Fatalf("-handler must be route, forward or forward-nethttp, got %q", *handler)
	}
	if err := run(*addr, *wachtURL, *apiKey, *logPath, *origins, *pprofAddr, *handler); err != nil {
		log.Fatal(err)
	}
}

func run(addr, wachtURL, apiKey, logPath, origins, pprofAddr, handler string) error {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// The audit lines are batched (at most middleware.DefaultFlushInterval
	// late); Close, once the server has shut down, writes the last ones.
	auditLog := middleware.NewBufferedLog(logFile, 0)
	defer func() {
		if err := auditLog.Close(); err != nil {
			log.Printf("audit log: %v", err)
		}
	}()
	logger := zerolog.New(auditLog).With().Timestamp().Logger().Level(zerolog.InfoLevel)

	decider, err := policy.New(policy.Config{PolicyText: policyText()})
	if err != nil {
		return err
	}
	issuer, err := wacht.New(wacht.Config{APIKey: apiKey, BaseURL: wachtURL})
	if err != nil {
		return err
	}
	var allowed []string
	if origins != "" {
		allowed = strings.Split(origins, ",")
	}

	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	// Nothing proxies this server: take the client IP from the connection,
	// never from X-Forwarded-For.
	if err := engine.SetTrustedProxies(nil); err != nil {
		return err
	}
	switch handler {
	case "forward":
		engine.POST(ticket.DefaultPath, forward(issuer))
	case "forward-nethttp":
		engine.POST(ticket.DefaultPath, forwardNetHTTP(wachtURL, apiKey))
	default:
		err = middleware.Mount(engine, middleware.Config{
			Identify:       identify(),
			Decider:        decider,
			Issuer:         issuer,
			Logger:         logger,
			AllowedOrigins: allowed,
			RateLimit:      middleware.NoRateLimit,
		})
	}
	if err != nil {
		return err
	}

	log.Printf("benchserver on %s, Wacht at %s, audit log %s", addr, wachtURL, logPath)
	return benchserve.Serve(addr, engine, pprofAddr)
}

// policyText generates the Express peer's data as a policy: admin may manage
// keys, viewer holds no permission row.
func policyText() string {
	var b strings.Builder
	b.WriteString("p, admin, *, deployment:*, api_keys:manage\n")
	for t := range tenants {
		fmt.Fprintf(&b, "g, admin-%d, admin, t%d\n", t, t)
		fmt.Fprintf(&b, "g, viewer-%d, viewer, t%d\n", t, t)
		for d := range deploymentsPerTenant {
			fmt.Fprintf(&b, "g2, deployment:%d, t%d\n", t*deploymentsPerTenant+d, t)
		}
	}
	return b.String()
}

// identify stands in for the app's session, as the Express peer's header
// middleware does: a map from user id to the tenant they act in.
func identify() func(*gin.Context) (middleware.Principal, error) {
	users := make(map[string]string, 2*tenants)
	for t := range tenants {
		users[fmt.Sprintf("admin-%d", t)] = fmt.Sprintf("t%d", t)
		users[fmt.Sprintf("viewer-%d", t)] = fmt.Sprintf("t%d", t)
	}
	errNoUser := errors.New("unknown user")
	return func(c *gin.Context) (middleware.Principal, error) {
		id := c.GetHeader("X-User")
		tenant, ok := users[id]
		if !ok {
			return middleware.Principal{}, errNoUser
		}
		return middleware.Principal{Subject: id, Tenant: tenant}, nil
	}
}

// deploymentID reads the Express peer's body, answering 400 when it has no
// deploymentId.
func deploymentID(c *gin.Context) (string, bool) {
	var in struct {
		DeploymentID string `json:"deploymentId"`
	}
	if err := c.ShouldBindJSON(&in); err != nil || in.DeploymentID == "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "deploymentId is required"})
		return "", false
	}
	return in.DeploymentID, true
}

// forward asks issuer (keyportal's Wacht client) for the ticket and answers
// it, checking nothing.
func forward(issuer *wacht.Client) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := deploymentID(c)
		if !ok {
			return
		}
		resp, err := issuer.Issue(c.Request.Context(), ticket.Request{AppSlug: "aa_" + id, TTL: 120 * time.Second})
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": "ticket issuance failed"})
			return
		}
		c.JSON(http.StatusOK, resp)
	}
}

// forwardNetHTTP posts to Wacht with net/http's default transport and
// answers Wacht's body, checking nothing.
func forwardNetHTTP(wachtURL, apiKey string) gin.HandlerFunc {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	return func(c *gin.Context) {
		id, ok := deploymentID(c)
		if !ok {
			return
		}
		body := `{"ticket_type":"api_auth_access","api_auth_app_slug":"aa_` + id + `","expires_in":120}`
		req, _ := http.NewRequestWithContext(c.Request.Context(), http.MethodPost, wachtURL+"/session/tickets", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": "ticket issuance failed"})
			return
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": "ticket issuance failed"})
			return
		}
		c.Data(http.StatusOK, "application/json", out)
	}
}
