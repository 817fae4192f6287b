//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir locks dir for this process until the returned func runs, so
// that a second Acme on the same state is refused: it would provision the
// apps for its own origins and so take the portal away from the first. The
// lock is the kernel's (flock), released however the process ends.
func lockDataDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, "acme.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("acme: %s is in use by another Acme; stop it, or give this one another directory with -data", dir)
		}
		return nil, fmt.Errorf("acme: locking %s: %w", path, err)
	}
	return f.Close, nil
}
