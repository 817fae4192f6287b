//go:build !unix

package main

// lockDataDir does nothing where flock is missing: there, run one Acme per
// data directory yourself (datalock_unix.go says why).
func lockDataDir(string) (func() error, error) { return func() error { return nil }, nil }
