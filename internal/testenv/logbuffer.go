package testenv

import (
	"bytes"
	"sync"
)

// LogBuffer collects what a logger writes, safe for concurrent writers and a
// reader: tests capture logs in one and search them (for audit events, or for
// secrets that must never appear).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
