package middleware

import (
	"os/exec"
	"strings"
	"testing"
)

// driverModules are the database and Redis drivers: only the driver packages
// (keystore/sqlite, keystore/postgres, ratelimit/redis, policy/postgres) and
// the programs that choose them may link them.
var driverModules = []string{
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/redis/go-redis",
}

// TestNoDriversLinked: importing the Gin face (or the Wacht client, the
// shell, or the driver-independent cores) links no database or Redis driver,
// so a Wacht-mode app does not carry SQLite, pgx and go-redis in its binary.
func TestNoDriversLinked(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	for _, pkg := range []string{
		".",
		"./wacht",
		"./wacht/gateway",
		"./shell",
		"./apikey",
		"./audit",
		"./keystore",
		"./ratelimit",
		"./ticket",
	} {
		out, err := exec.Command(gotool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		for _, mod := range driverModules {
			for _, dep := range deps {
				if dep == mod || strings.HasPrefix(dep, mod+"/") {
					t.Errorf("%s links %s (%s)", pkg, mod, dep)
					break
				}
			}
		}
	}
}
