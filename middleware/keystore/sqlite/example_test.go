package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// Open creates the file, and its directory, on first use; every process
// that opens the same file shares its apps, keys and used tickets.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "sqlite-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "data", "keyportal.db"), keystore.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	fmt.Println(filepath.Base(store.Path()), store.Ping(ctx))
	// Output:
	// keyportal.db <nil>
}
