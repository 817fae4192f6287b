package postgres_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that Close leaves no listener goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
