package middleware

import "testing"

// TestForwardedForOnlyFromTrustedProxies spoofs X-Forwarded-For on the
// ticket route (issue 14 §2): the audited client_ip is the connection's
// address unless the engine trusts the connection's peer as a proxy. On
// gin's default engine, which trusts every address, the header is ignored
// (internal/clientip, whose tests check the warning that names the fix).
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	const peer, claimed = "192.0.2.1", "198.51.100.77" // peer: httptest's RemoteAddr
	for _, tt := range []struct {
		name    string
		proxies []string // nil: gin's default, every address
		set     bool
		want    string
	}{
		{"gin's default engine", nil, false, peer},
		{"no proxy trusted", nil, true, peer},
		{"another proxy trusted", []string{"10.0.0.0/8"}, true, peer},
		{"the peer is a trusted proxy", []string{peer}, true, claimed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{})
			if tt.set {
				if err := env.engine.SetTrustedProxies(tt.proxies); err != nil {
					t.Fatal(err)
				}
			}
			if w := env.do(req{header: map[string]string{"X-Forwarded-For": claimed}}); w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := env.log.onlyAudit(t)["client_ip"]; got != tt.want {
				t.Errorf("audited client_ip %v, want %s", got, tt.want)
			}
		})
	}
}
