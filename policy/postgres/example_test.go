package postgres_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	pgpolicy "github.com/keyportal/keyportal/policy/postgres"
)

// ExampleOpen shares one policy between instances: each opens the engine on
// the same schema; an edit on one is enforced by all.
func ExampleOpen() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://keyportal@db/keyportal")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	e, err := pgpolicy.Open(ctx, pgpolicy.Config{Pool: pool, Schema: "keyportal"})
	if err != nil {
		fmt.Println(err) // a bad row: "keyportal.casbin_rule id 7: ..."
		return
	}
	defer e.Close()
	// Suspend a tenant everywhere.
	if _, err := e.Add(ctx, "g3", "initech", "suspended"); err != nil {
		fmt.Println(err)
	}
}
